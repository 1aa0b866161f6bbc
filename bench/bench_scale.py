"""Cost curve: the default run's heaviest single models fitted to simulated studies of
growing size, with the fitted growth exponent of time in the number of tenants.

Usage::

    nice -n 5 uv run python bench/bench_scale.py [--sizes 3000,15000,60000]
        [--outcomes contact,lonely] [--seed S] [--max-seconds T] [--out scale.csv]

For each size ``N`` the default study is simulated with ``N`` tenants in ``N // 10``
complexes (:class:`data.simulate.Design`, simulation seed ``--seed``, default the built-in
data set's) and each chosen model of the default suite is fitted with the default run's
sampler settings (:func:`workflows.setup.sampler_settings` with no flags and the default
config: a first round of 4 chains, then rounds of more draws until every reported
parameter meets R-hat <= 1.01 and bulk and tail ESS >= 400). A fresh
:class:`inference.engine.Engine` per fit, so every fit compiles its own graph.

Per size and model: compile, sampling (all rounds, warm-up included) and predictive
seconds (``Engine.timings``), post-processing seconds (PSIS-LOO as the default run
computes it, :func:`diagnostics.compare.loo_table`, and the probability-scale effects of
both estimands, :func:`diagnostics.effects.probability_effects`), the peak resident
memory of each phase (:class:`workflows.timing.PhaseClock`), the least bulk and tail ESS
and the largest R-hat over the reported parameters, divergences and the verdict
(:func:`diagnostics.convergence.model_verdict`). Then, per model, the exponent ``b`` of
``time ~ n^b`` by least squares on the log-log scale over the sizes fitted, for sampling
time and for total time. The targets: 60,000 tenants, one cumulative model ``ok`` in at
most 15 minutes on 2 cores; growth in time at most linear (``b <= 1``).

``--max-seconds``: once one fit of a model takes longer (in total), its larger sizes are
skipped and the table says so. Each row is written to ``--out`` as soon as it is measured,
so a run stopped by hand keeps what it has; ``--previous`` takes such a CSV back in (its
rows join the table and the exponents).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from data.config import StudyConfig  # noqa: E402
from data.simulate import DEFAULT_DATA_SEED, Design, analysis_frame  # noqa: E402
from data.suite import default_specs  # noqa: E402
from inference.engine import Engine, SamplerSettings  # noqa: E402
from models.design import prepare  # noqa: E402
from workflows.setup import sampler_settings  # noqa: E402
from workflows.timing import PhaseClock  # noqa: E402

DEFAULT_SIZES = "3000,15000,60000"
DEFAULT_OUTCOMES = "contact,lonely"
TARGET_N, TARGET_S = 60_000, 15 * 60  # one cumulative model ok in <= 15 min at 60,000
COLUMNS = ["n_tenants", "n_complexes", "model", "rows", "compile_s", "sample_s",
           "predictive_s", "post_s", "total_s", "peak_mb_simulate", "peak_mb_compile_sample",
           "peak_mb_post", "min_ess_bulk", "min_ess_tail", "max_r_hat", "divergences",
           "verdict", "rounds", "note"]


def default_settings() -> SamplerSettings:
    """The sampler settings of the default run (no flags, default config)."""
    return sampler_settings(argparse.Namespace(), StudyConfig())


def growth_exponent(n, seconds) -> float:
    """``b`` of ``seconds ~ a * n^b`` by least squares on the log-log scale; NaN with fewer
    than two distinct sizes."""
    n, s = np.asarray(n, dtype=float), np.asarray(seconds, dtype=float)
    keep = np.isfinite(n) & np.isfinite(s) & (n > 0) & (s > 0)
    n, s = n[keep], s[keep]
    if np.unique(n).size < 2:
        return float("nan")
    return float(np.polyfit(np.log(n), np.log(s), 1)[0])


def exponents(table: pd.DataFrame) -> pd.DataFrame:
    """Per model: sizes fitted and the growth exponent of sampling and of total time."""
    fitted = table[table["total_s"].notna()]
    rows = []
    for model, g in fitted.groupby("model", sort=False):
        rows.append({"model": model, "sizes": ",".join(str(int(n)) for n in g["n_tenants"]),
                     "b_sample": growth_exponent(g["n_tenants"], g["sample_s"]),
                     "b_total": growth_exponent(g["n_tenants"], g["total_s"])})
    return pd.DataFrame(rows, columns=["model", "sizes", "b_sample", "b_total"])


def targets(table: pd.DataFrame, exps: pd.DataFrame, families: dict[str, str]) -> list[str]:
    """The targets in words, met or missed, from what was measured."""
    lines = []
    at = table[(table["n_tenants"] >= TARGET_N) & table["total_s"].notna()
               & table["model"].map(lambda m: families.get(m) == "cumulative")]
    if at.empty:
        lines.append(f"{TARGET_N:,} tenants, one cumulative model ok in <= {TARGET_S / 60:.0f}"
                     f" min: not measured")
    for r in at.itertuples():
        met = r.verdict == "ok" and r.total_s <= TARGET_S
        lines.append(f"{r.n_tenants:,} tenants, {r.model}: {r.verdict} in "
                     f"{r.total_s / 60:.1f} min -- target {'met' if met else 'MISSED'}")
    for r in exps.itertuples():
        if np.isfinite(r.b_total):
            lines.append(f"{r.model}: time ~ n^{r.b_total:.2f} (sampling n^{r.b_sample:.2f}) "
                         f"-- at most linear {'met' if round(r.b_total, 2) <= 1 else 'MISSED'}")
    return lines


def fit_one(spec, frame: pd.DataFrame, settings: SamplerSettings, clock: PhaseClock) -> dict:
    """Fit ``spec`` as the default run does and measure it."""
    from diagnostics.compare import loo_table
    from diagnostics.convergence import model_verdict, parameter_table, reported_variables
    from diagnostics.crossval import latent_integrated_tree
    from diagnostics.effects import ESTIMANDS, probability_effects

    engine = Engine(progress=False)
    data = prepare(frame, spec)
    with clock(f"{spec.name}: compile+sample"):
        tree = engine.fit(spec, data, settings)
    t = engine.timings[-1]
    t0 = time.perf_counter()
    with clock(f"{spec.name}: post"):
        with_ll = tree
        if hasattr(spec.family_impl, "latent_log_density"):
            with_ll = latent_integrated_tree(tree, spec, data)
        loo_table({spec.name: with_ll}, observed={spec.name: data.y})
        for estimand in ESTIMANDS:
            probability_effects(tree, spec, data, estimand=estimand)
    post_s = time.perf_counter() - t0
    table = parameter_table(tree, var_names=reported_variables(tree))
    verdict = model_verdict(tree, table, model=spec.name).iloc[0]
    return {"rows": len(data.y), "compile_s": t["compile_s"], "sample_s": t["sample_s"],
            "predictive_s": t["post_s"], "post_s": post_s,
            "total_s": t["total_s"] + post_s,
            "peak_mb_compile_sample": clock.peak_mb[f"{spec.name}: compile+sample"],
            "peak_mb_post": clock.peak_mb[f"{spec.name}: post"],
            "min_ess_bulk": float(table["ess_bulk"].min()),
            "min_ess_tail": float(table["ess_tail"].min()),
            "max_r_hat": float(table["r_hat"].max()),
            "divergences": int(verdict["divergences"]), "verdict": verdict["verdict"],
            "rounds": verdict["rounds"]}


def _format(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda x: f"{x:.3f}" if abs(x) < 5
                        else f"{x:.0f}")


def _parse_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   help=f"comma-separated numbers of tenants (default {DEFAULT_SIZES}); "
                        f"complexes: a tenth of each")
    p.add_argument("--outcomes", default=DEFAULT_OUTCOMES,
                   help=f"comma-separated models of the default suite (default "
                        f"{DEFAULT_OUTCOMES}; cohesion_items is the heaviest)")
    p.add_argument("--seed", type=int, default=DEFAULT_DATA_SEED,
                   help=f"simulation seed (default {DEFAULT_DATA_SEED}, the built-in data "
                        f"set's); the sampler's seed is the default run's")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="skip a model's larger sizes once one of its fits took longer")
    p.add_argument("--out", type=Path, default=None, help="CSV of the table")
    p.add_argument("--previous", type=Path, default=None,
                   help="CSV an earlier run wrote (--out): its rows join the table and the "
                        "exponents (smaller sizes measured before, say)")
    args = p.parse_args(argv)
    specs = default_specs()
    outcomes = _parse_list(args.outcomes)
    unknown = [o for o in outcomes if o not in specs]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(specs)}")
    try:
        sizes = sorted({int(s) for s in _parse_list(args.sizes)})
    except ValueError:
        p.error("--sizes: comma-separated whole numbers")
    if not sizes or min(sizes) < 100:
        p.error("--sizes: at least 100 tenants each")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("inference").setLevel(logging.INFO)  # each round and why
    settings = default_settings()
    families = {o: specs[o].family for o in outcomes}
    print(f"settings: {settings.to_json()}", flush=True)
    rows, too_slow = [], {}
    if args.previous is not None:
        earlier = pd.read_csv(args.previous, keep_default_na=False, na_values=[""])
        rows = [{k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
                for r in earlier.to_dict("records")]
    t_start = time.perf_counter()

    def record(row: dict) -> None:
        rows.append(row)
        print(_format(pd.DataFrame([row])[[c for c in COLUMNS if c in row]]), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows, columns=COLUMNS).to_csv(args.out, index=False)

    for n in sizes:
        design = Design(n_tenants=n, n_complexes=n // 10)
        todo = [o for o in outcomes if o not in too_slow]
        for o in outcomes:
            if o in too_slow:
                record({"n_tenants": n, "n_complexes": n // 10, "model": o,
                        "note": f"skipped: the {too_slow[o][0]:,}-tenant fit took "
                                f"{too_slow[o][1]:.0f} s > --max-seconds {args.max_seconds:g}"})
        if not todo:
            continue
        clock = PhaseClock()
        print(f"\n[{datetime.now(UTC):%H:%M:%S} UTC, +{time.perf_counter() - t_start:.0f} s] "
              f"simulating {n:,} tenants in {n // 10:,} complexes", flush=True)
        with clock("simulate"):
            frame = analysis_frame(design, seed=args.seed)
        for o in todo:
            print(f"[{datetime.now(UTC):%H:%M:%S} UTC, +{time.perf_counter() - t_start:.0f} s] "
                  f"fitting {o} at {n:,} tenants", flush=True)
            row = {"n_tenants": n, "n_complexes": n // 10, "model": o,
                   "peak_mb_simulate": clock.peak_mb["simulate"],
                   **fit_one(specs[o], frame, settings, clock), "note": ""}
            record(row)
            if args.max_seconds is not None and row["total_s"] > args.max_seconds:
                too_slow[o] = (n, row["total_s"])
        del frame

    table = pd.DataFrame(rows, columns=COLUMNS)
    exps = exponents(table)
    print(f"\ncost curve: {settings.chains} chains, first round {settings.draws} draws after "
          f"{settings.tune} warm-up, up to {settings.top_up} rounds more; simulation seed "
          f"{args.seed}")
    print(_format(table.drop(columns=["n_complexes"])))
    print("\ngrowth exponent b of time ~ n^b (log-log least squares over the sizes fitted)")
    print(_format(exps))
    print()
    for line in targets(table, exps, families):
        print(line)
    print(f"bench wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
