"""Draws by target vs a fixed number of draws, side by side in one process.

Usage::

    uv run python bench/bench_draws.py [--outcomes a,b] [--seed S] [--ways fixed,by_target,rounds]
                                       [--first-draws N] [--first-tune N] [--top-up N]
    uv run python bench/bench_draws.py --warmup 150,300,500,1000 [--outcomes a,b]
                                       [--first-draws N]

Simulates the default study (the built-in data set of ``run_models.py``) and fits each
chosen model of the default suite in each way asked for with one
:class:`inference.engine.Engine` (so a graph shape is compiled once; compile time is not
counted):

``fixed``
    the former default run: 4 chains x 1000 draws after 1000 warm-up steps, up to 2
    rounds of more draws where a reported parameter misses its threshold;
``by_target``
    the default run now (:data:`workflows.setup.DEFAULT_FIRST_ROUND`,
    :data:`workflows.setup.DEFAULT_TOP_UP`): 4 chains judged after ``--first-draws`` draws
    (``--first-tune`` warm-up steps) and, running on, at growing checkpoints until every
    reported parameter meets R-hat <= 1.01 and bulk and tail ESS >= 400
    (:meth:`inference.engine.Engine._sample_continued`);
``rounds``
    the same targets reached the way the default run did before: a first round of 4 x
    ``--first-draws``, then rounds that replace the chains by longer ones (R-hat short) or
    add chains (ESS short), each with its own warm-up (nutpie on 2 threads, as a capped
    engine still samples).

Per fit: ``sample_s`` (all rounds, warm-up included; no predictive draws), the least bulk
and tail ESS and the largest R-hat over the reported parameters (the verdict's own
:func:`diagnostics.convergence.parameter_table`), divergences, the verdict, and the rounds
(``4x400, +2x400 (least ESS 331 < 400)``). ``--warmup`` instead fits each model once per
warm-up length (4 x ``--first-draws`` draws, no rounds) and prints the least ESS per draw,
R-hat and the adapted step size: how much warm-up nutpie's ``draw_diag`` needs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from data.simulate import analysis_frame  # noqa: E402
from data.suite import default_specs  # noqa: E402
from diagnostics.convergence import (  # noqa: E402
    model_verdict,
    parameter_table,
    reported_variables,
    rounds_text,
)
from inference.engine import Engine, SamplerSettings  # noqa: E402
from models.design import prepare  # noqa: E402
from workflows.setup import DEFAULT_FIRST_ROUND, DEFAULT_TOP_UP  # noqa: E402

DEFAULT_OUTCOMES = "friendly_contact,contact,cohesion,help_given"
FIXED = {"draws": 1000, "tune": 1000, "top_up": 2}  # the default run before draws by target


def _figures(tree, engine: Engine) -> dict:
    table = parameter_table(tree, var_names=reported_variables(tree))
    verdict = model_verdict(tree, table).iloc[0]
    post = tree["posterior"]
    return {"sample_s": engine.timings[-1]["sample_s"],
            "chains": post.sizes["chain"], "draws": post.sizes["draw"],
            "total_draws": post.sizes["chain"] * post.sizes["draw"],
            "min_ess_bulk": float(table["ess_bulk"].min()),
            "min_ess_tail": float(table["ess_tail"].min()),
            "max_r_hat": float(table["r_hat"].max()),
            "divergences": int(verdict["divergences"]), "verdict": verdict["verdict"],
            "rounds": rounds_text(tree)}


def side_by_side(args, specs, frame) -> pd.DataFrame:
    engine = Engine(progress=False)
    ways = {"fixed": FIXED,
            "by_target": {"draws": args.first_draws, "tune": args.first_tune,
                          "top_up": args.top_up},
            "rounds": {"draws": args.first_draws, "tune": args.first_tune,
                       "top_up": args.top_up}}
    ways = {k: v for k, v in ways.items() if k in args.ways}
    rows = []
    for name in args.outcomes:
        spec = specs[name]
        data = prepare(frame, spec)
        for way, sizes in ways.items():
            settings = SamplerSettings(chains=4, seed=args.seed, predictive=False, **sizes)
            engine.cores = 2 if way == "rounds" else None  # capped: the rounds of old
            tree = engine.fit(spec, data, settings)
            rows.append({"model": name, "way": way, **_figures(tree, engine)})
            print(_format(pd.DataFrame(rows[-1:])), flush=True)
    return pd.DataFrame(rows)


def warmup(args, specs, frame) -> pd.DataFrame:
    engine = Engine(progress=False)
    rows = []
    for name in args.outcomes:
        spec = specs[name]
        data = prepare(frame, spec)
        for tune in args.warmup:
            settings = SamplerSettings(chains=4, draws=args.first_draws, tune=tune,
                                       seed=args.seed, predictive=False)
            tree = engine.fit(spec, data, settings)
            f = _figures(tree, engine)
            stats = tree["sample_stats"]
            rows.append({"model": name, "tune": tune, "sample_s": f["sample_s"],
                         "min_ess_bulk": f["min_ess_bulk"], "min_ess_tail": f["min_ess_tail"],
                         "ess_per_draw": min(f["min_ess_bulk"], f["min_ess_tail"])
                         / f["total_draws"],
                         "max_r_hat": f["max_r_hat"], "divergences": f["divergences"],
                         "step_size": float(stats["step_size"].mean()),
                         "leapfrog_steps": float(stats["n_steps"].mean())})
            print(_format(pd.DataFrame(rows[-1:])), flush=True)
    return pd.DataFrame(rows)


def _format(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda x: f"{x:.3f}" if abs(x) < 5
                        else f"{x:.1f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--outcomes", default=DEFAULT_OUTCOMES,
                   help=f"comma-separated models of the default suite (default "
                        f"{DEFAULT_OUTCOMES})")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--first-draws", type=int, default=DEFAULT_FIRST_ROUND["draws"])
    p.add_argument("--first-tune", type=int, default=DEFAULT_FIRST_ROUND["tune"])
    p.add_argument("--top-up", type=int, default=DEFAULT_TOP_UP)
    p.add_argument("--ways", default="fixed,by_target",
                   help="comma-separated: fixed, by_target (default both)")
    p.add_argument("--warmup", default="",
                   help="comma-separated warm-up lengths: the warm-up sweep instead")
    args = p.parse_args(argv)
    specs = default_specs()
    args.outcomes = [o.strip() for o in args.outcomes.split(",") if o.strip()]
    unknown = [o for o in args.outcomes if o not in specs]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(specs)}")
    args.warmup = [int(t) for t in args.warmup.split(",") if t.strip()]
    args.ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    if not args.ways or set(args.ways) - {"fixed", "by_target", "rounds"}:
        p.error("--ways: choose from fixed, by_target, rounds")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("inference").setLevel(logging.INFO)  # each round and why
    frame = analysis_frame()  # the default data set of run_models.py
    t0 = time.perf_counter()
    if args.warmup:
        table = warmup(args, specs, frame)
        print(f"\nwarm-up sweep: 4 chains x {args.first_draws} draws, seed {args.seed}")
        print(_format(table))
    else:
        table = side_by_side(args, specs, frame)
        print(f"\nfixed: 4 x {FIXED['draws']} after {FIXED['tune']} warm-up, top-up "
              f"{FIXED['top_up']}; by_target (chains run on) and rounds (chains replaced "
              f"or added): 4 x {args.first_draws} after {args.first_tune} warm-up, up to "
              f"{args.top_up} rounds; seed {args.seed}")
        print(_format(table))
        tot = table.groupby("way", sort=False)[["sample_s", "total_draws"]].sum()
        tot["ok"] = table.groupby("way", sort=False)["verdict"].apply(
            lambda v: int((v == "ok").sum()))
        print("\n" + _format(tot.reset_index()))
        for other in ("fixed", "rounds"):
            if other in tot.index and "by_target" in tot.index:
                print(f"sampling time {other} / by_target = "
                      f"{tot.loc[other, 'sample_s'] / tot.loc['by_target', 'sample_s']:.2f}")
    print(f"bench wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
