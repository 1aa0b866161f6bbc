"""How often are the findings' verdicts wrong? False "supported" and false "equivalent" rates.

Simulates several data sets in two test worlds (:data:`data.simulate.WORLDS`):

* ``null_forms``: no living form changes any outcome (intercepts and thresholds
  recalibrated to the published marginals), so every form-difference claim of the report
  is false there -- a "supported" verdict on one is a false positive, and the equivalence
  claims ("little difference between forms") are true;
* ``default``: the simulator's built-in truth (:mod:`data.truth`), where a claim is false
  when its true latent contrast is zero or points the other way, and "little difference"
  is false when the brute-force probability-scale truth (:func:`data.simulate.
  probability_truth`) has two forms further apart than the ROPE.

Per seed it fits each outcome's default model (the hierarchical zero-sum form effect,
the report's covariates) with a reduced sampler, judges the published claims of those
outcomes (:func:`diagnostics.findings.check_findings`) and the equivalence rule
(:func:`diagnostics.findings.check_equivalences`) -- for the published equivalence claims,
and, to see the rule at work more often, on every fitted outcome with a probability scale
-- and compares each verdict with the truth. The published claims are true in the default
world by construction (the simulator's truth was written from them), so the directional
rule is also applied to every ordered pair of forms of each outcome ("A above B": 42 per
outcome), which has true nulls and wrong signs in both worlds (``claims`` = ``rule
check``: these pairs, and the equivalence rule on outcomes without a published claim).
Prints per-seed counts and the rates with Clopper-Pearson 95% intervals (claims of one
seed share a fit, so the intervals, which treat them as independent, are too narrow; the
per-seed counts show the spread).

    uv run python bench/bench_verdicts.py --seeds 6 --default-seeds 2 \\
        --outcomes contact,lonely,help_given

Writes ``verdicts.csv`` (every verdict beside its truth) and ``rates.csv`` to ``--out``
(default ``results/bench_verdicts``) after each seed, so an interrupted run keeps them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.findings import EQUIVALENCES, FINDINGS, Equivalence, Finding  # noqa: E402
from diagnostics.equivalence import LARGEST, ROPE_SD  # noqa: E402

OUTCOMES = ("contact", "lonely", "help_given")
SAMPLER = {"chains": 2, "draws": 300, "tune": 300}  # reduced from VALIDATE_SAMPLER (500 + 500)
NULL_SEED0, DEFAULT_SEED0 = 101, 201  # data seeds: NULL_SEED0 + k, DEFAULT_SEED0 + k


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for ``k`` of ``n`` (``(nan, nan)`` for ``n = 0``)."""
    if n == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta_dist.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta_dist.ppf(1 - a, k + 1, n - k))
    return lo, hi


def _latent_truth(truth: dict, outcome: str, kind: str, target: str) -> float:
    """The generating value of a claim's parameter: a latent form contrast or a
    coefficient (0 where the generator has none)."""
    entry = truth["outcomes"][outcome]
    if kind == "beta":
        return float(entry["coefficients"].get(target, 0.0))
    a, b = (s.strip() for s in target.split(" - "))
    forms = entry["form_effects"]
    return float(forms[a] - forms[b])


def directional_rows(findings: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """The directional and joint rows, each with ``true_claim`` (every part's generating
    value has the claimed sign: a zero contrast makes the claim false) and ``form_claim``
    (about living forms rather than a covariate)."""
    rows = findings[findings["claim_type"].isin(("directional", "joint"))].copy()
    true, form = [], []
    for r in rows.itertuples():
        sign = 1 if r.expected == "+" else -1
        parts = r.parameter.split(" & ") if r.kind == "joint" else [r.parameter]
        kinds = ["contrast" if " - " in part else "beta" for part in parts]
        true.append(all(sign * _latent_truth(truth, r.outcome, k, part) > 0
                        for k, part in zip(kinds, parts, strict=True)))
        form.append(all(k == "contrast" for k in kinds))
    rows["true_claim"] = true
    rows["form_claim"] = form
    return rows


def pair_claims(outcomes: tuple[str, ...]) -> list[Finding]:
    """The directional rule at work on every ordered pair of forms: "A above B" for each
    outcome and each A != B (42 per outcome; a pair and its reverse are the two signs).
    Unlike the published claims -- which the default world's truth makes true, having been
    written from them -- these include true nulls and wrong signs in every world."""
    from data import codebook as cb

    return [Finding(o, "contrast", f"{a} - {b}", +1, f"{o}: (rule check) {a} above {b}")
            for o in outcomes for a in cb.FORM_CODES for b in cb.FORM_CODES if a != b]


def equivalence_truth(probabilities: dict, truth_probs: dict | None, ropes: dict) -> dict:
    """``{outcome: (true largest |difference| in pp, claim true)}``; ``truth_probs`` None:
    no form effect, every difference zero."""
    out = {}
    for outcome, rope in ropes.items():
        if truth_probs is None:
            largest = 0.0
        else:
            p = np.array(list(truth_probs[outcome].values())) * 100.0
            largest = float(p.max() - p.min())
        out[outcome] = (largest, largest < rope)
    return out


def one_seed(world: str, seed: int, outcomes: tuple[str, ...], *, engine, settings,
             n_rep: int) -> pd.DataFrame:
    """Fit, judge and compare one simulated data set; one row per verdict."""
    from data.loader import StudyData
    from data.simulate import WORLDS, probability_truth, simulate
    from data.suite import default_specs
    from diagnostics.effects import form_probabilities
    from diagnostics.findings import check_equivalences, check_findings, rope_sensitivity
    from models.design import prepare

    design = WORLDS[world]
    cx, tn, truth = simulate(design, seed=seed)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    specs = default_specs()
    fits, on_scale = {}, {}
    for outcome in outcomes:
        spec = specs[outcome]
        data = prepare(frame, spec)
        tree = engine.fit(spec, data, dataclasses.replace(settings, seed=seed))
        fits[spec.name] = tree
        if spec.family_impl.has_probability_scale:
            on_scale[outcome] = (form_probabilities(tree, spec, data, max_draws=400, seed=seed),
                                 True, float(np.std(data.y)))
    claims = [f for f in FINDINGS if f.outcome in outcomes]
    directional = directional_rows(check_findings(fits, findings=claims), truth)
    every_pair = directional_rows(check_findings(fits, findings=pair_claims(outcomes)), truth)
    published = {e.outcome for e in EQUIVALENCES}
    eqs = tuple(Equivalence(o, next((e.claim for e in EQUIVALENCES if e.outcome == o),
                                    f"{o}: (rule check) little difference between forms"))
                for o in on_scale)
    eq_rows = check_equivalences(on_scale, equivalences=eqs)
    rope = rope_sensitivity(on_scale, equivalences=eqs, widths=(ROPE_SD,))
    ropes = dict(zip(rope.loc[rope["pair"] == LARGEST, "outcome"],
                     rope.loc[rope["pair"] == LARGEST, "rope"], strict=True))
    truth_probs = None if design.null_forms else probability_truth(
        design, seed=seed, n_rep=n_rep, outcomes=tuple(on_scale))
    eq_truth = equivalence_truth(on_scale, truth_probs, ropes)
    eq_rows["true_claim"] = [eq_truth[o][1] for o in eq_rows["outcome"]]
    eq_rows["truth"] = [eq_truth[o][0] for o in eq_rows["outcome"]]
    eq_rows["rope"] = eq_rows["outcome"].map(ropes)
    eq_rows["published"] = eq_rows["outcome"].isin(published)
    directional["published"] = True
    every_pair["published"] = False
    keep = ["outcome", "claim_type", "kind", "parameter", "expected", "claim",
            "posterior_mean", "p_claim", "p_against", "verdict", "true_claim", "truth",
            "published", "form_claim"]
    out = pd.concat([d.assign(truth=np.nan)[keep] for d in (directional, every_pair)]
                    + [eq_rows.assign(form_claim=True)[[*keep, "rope"]]], ignore_index=True)
    out.insert(0, "seed", seed)
    out.insert(0, "world", world)
    return out


def rates(table: pd.DataFrame) -> pd.DataFrame:
    """The error rates per world (and pooled), with Clopper-Pearson 95% intervals.

    * ``false supported / false claims``: of the directional and joint form-difference
      claims whose truth is false (zero or the other sign), the share called "supported"
      or "holds" -- the rule's false-positive rate (target <= 5%);
    * ``false among supported``: of the "supported"/"holds" verdicts, the share false;
    * ``false equivalent / false claims`` and ``false among equivalent``: the same for
      "equivalent" (every equivalence row; published ones and the rule on every outcome).
    """
    rows = []
    for world, g in [*table.groupby("world", sort=False), ("all", table)]:
        directional = g[g["claim_type"].isin(("directional", "joint")) & g["form_claim"]]
        eq = g[g["claim_type"] == "equivalence"]
        for claims, pub in (("published", True), ("rule check", False)):
            form = directional[directional["published"] == pub]
            said = form["verdict"].isin(("supported", "holds"))
            wrong = said & ~form["true_claim"]
            counts = [("false supported / false form claims", wrong.sum(),
                       (~form["true_claim"]).sum()),
                      ("false among supported form verdicts", wrong.sum(), said.sum())]
            e = eq[eq["published"] == pub]
            e_said = e["verdict"] == "equivalent"
            counts += [("false equivalent / false equivalence claims",
                        (e_said & ~e["true_claim"]).sum(), (~e["true_claim"]).sum()),
                       ("false among equivalent verdicts", (e_said & ~e["true_claim"]).sum(),
                        e_said.sum())]
            for label, k, n in counts:
                k, n = int(k), int(n)
                lo, hi = clopper_pearson(k, n)
                rows.append({"world": world, "seeds": g["seed"].nunique(), "claims": claims,
                             "rate": label, "k": k, "n": n,
                             "share": k / n if n else float("nan"), "ci95_lo": lo,
                             "ci95_hi": hi})
    return pd.DataFrame(rows)


def per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """Verdict counts per world and seed: form-difference claims (true/false x verdict)
    and equivalence rows."""
    form = table[table["claim_type"].isin(("directional", "joint")) & table["form_claim"]
                 & table["published"]]
    pairs = table[table["claim_type"].eq("directional") & table["form_claim"]
                  & ~table["published"]]
    eq = table[table["claim_type"] == "equivalence"]
    out = []
    for (world, seed), g in form.groupby(["world", "seed"], sort=False):
        e = eq[(eq["world"] == world) & (eq["seed"] == seed)]
        out.append({"world": world, "seed": seed, "form claims": len(g),
                    "false claims": int((~g["true_claim"]).sum()),
                    "supported/holds": int(g["verdict"].isin(("supported", "holds")).sum()),
                    "false supported": int((g["verdict"].isin(("supported", "holds"))
                                            & ~g["true_claim"]).sum()),
                    "contradicted/fails": int(g["verdict"].isin(("contradicted",
                                                                 "fails")).sum()),
                    "pairs: false / false supported": "{} / {}".format(*_pair_counts(
                        pairs[(pairs["world"] == world) & (pairs["seed"] == seed)])),
                    "equivalence": ", ".join(f"{r.outcome} {r.verdict}"
                                             f"{'' if r.true_claim else ' (false claim)'}"
                                             for r in e.itertuples())})
    return pd.DataFrame(out)


def _pair_counts(pairs: pd.DataFrame) -> tuple[int, int]:
    false = ~pairs["true_claim"]
    return int(false.sum()), int((false & (pairs["verdict"] == "supported")).sum())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=4, help="data sets in the null world")
    p.add_argument("--default-seeds", type=int, default=2,
                   help="data sets in the default world")
    p.add_argument("--outcomes", default=",".join(OUTCOMES),
                   help="comma-separated outcomes whose default models are fitted")
    p.add_argument("--draws", type=int, default=SAMPLER["draws"])
    p.add_argument("--tune", type=int, default=SAMPLER["tune"])
    p.add_argument("--chains", type=int, default=SAMPLER["chains"])
    p.add_argument("--n-rep", type=int, default=20,
                   help="replications per form of the default world's probability truth")
    p.add_argument("--out", type=Path, default=Path("results") / "bench_verdicts")
    args = p.parse_args(argv)

    from inference.engine import Engine, SamplerSettings

    outcomes = tuple(o.strip() for o in args.outcomes.split(",") if o.strip())
    settings = SamplerSettings(chains=args.chains, draws=args.draws, tune=args.tune,
                               predictive=False)
    engine = Engine()
    args.out.mkdir(parents=True, exist_ok=True)
    null = [("null_forms", NULL_SEED0 + k) for k in range(args.seeds)]
    # four null seeds, then the default world's, then any further null seeds: an
    # interrupted run still has both worlds
    plan = null[:4] + [("default", DEFAULT_SEED0 + k) for k in range(args.default_seeds)] \
        + null[4:]
    tables = []
    t_all = time.perf_counter()
    for i, (world, seed) in enumerate(plan, start=1):
        t0 = time.perf_counter()
        tables.append(one_seed(world, seed, outcomes, engine=engine, settings=settings,
                               n_rep=args.n_rep))
        table = pd.concat(tables, ignore_index=True)
        table.to_csv(args.out / "verdicts.csv", index=False)
        rates(table).to_csv(args.out / "rates.csv", index=False)
        print(f"[{i}/{len(plan)}] {world} seed {seed}: {time.perf_counter() - t0:.0f} s",
              flush=True)
    table = pd.concat(tables, ignore_index=True)
    print(f"\noutcomes {', '.join(outcomes)}; sampler {args.chains} chains x ({args.tune} + "
          f"{args.draws}); {time.perf_counter() - t_all:.0f} s in all\n")
    print("Per seed (published form-difference claims: directional pairs and joint "
          "sentences; then the rule on every ordered pair of forms):")
    print(per_seed(table).to_string(index=False))
    print("\nError rates (Clopper-Pearson 95%; claims of one seed are not independent):")
    shown = rates(table)
    print(shown[shown["n"] > 0].round(3).to_string(index=False))
    print(f"\nwrote {args.out}/verdicts.csv, rates.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
