"""Benchmark many small fits: serial in one process vs a Dask LocalCluster, side by side.

Usage::

    uv run python bench/bench_parallel.py [--outcome contact] [--sims 200] [--n-tenants 600]
                                          [--workers N] [--draws 300] [--tune 300]

One SBC workload (the same tasks, seed and sampler settings) is run twice through
:func:`inference.parallel.run_tasks`, each into a fresh result store so nothing is reused:

``serial``
    every simulation in this process, one :class:`Engine` (one compile, then data swaps).
``local``
    a ``LocalCluster`` of ``--workers`` single-threaded worker processes (default: cores);
    each worker compiles the model once (in parallel) and samples its share.

Printed per way: wall seconds (including cluster start-up and compiling), mean task seconds
(``per_sim_s``: one fit and its ranks, inside the worker), wall per simulation, and the
speed-up of ``local`` over ``serial`` in wall time, and the share of identical ranks (not
100%: nutpie's draws for one seed differ between processes, see
docs/sampler-measurements.md; the rank distributions are what SBC compares).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outcome", default="contact")
    p.add_argument("--sims", type=int, default=200)
    p.add_argument("--n-tenants", type=int, default=600)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--tune", type=int, default=300)
    args = p.parse_args()

    from data.simulate import analysis_frame
    from data.suite import default_specs
    from inference.engine import SamplerSettings
    from inference.parallel import run_tasks
    from inference.sbc import results_frame, sbc_task, sbc_tasks, subsample_design
    from models.design import prepare
    from workflows.setup import DEFAULT_SEED

    frame = analysis_frame(seed=DEFAULT_SEED)
    spec = default_specs()[args.outcome]
    frame = subsample_design(frame, args.n_tenants, group=spec.levels[0], stratum=spec.focal,
                             seed=1)
    data = prepare(frame, spec)
    settings = SamplerSettings(chains=2, draws=args.draws, tune=args.tune, predictive=False)
    tasks = sbc_tasks(spec, data, sims=args.sims, seed=1, settings=settings)
    print(f"{args.outcome}: {args.sims} simulations on {data.n} tenants in "
          f"{len(data.level_labels[spec.levels[0]])} complexes, "
          f"{settings.chains}x({settings.tune}+{settings.draws}) draws per fit")
    rows, ranks = [], {}
    for label, scheduler in (("serial", "serial"), ("local", None)):
        with tempfile.TemporaryDirectory() as store:
            batch = run_tasks(sbc_task, tasks, store=Path(store),
                              shared={"spec": spec, "data": data}, scheduler=scheduler,
                              workers=args.workers, progress=lambda msg: None)
        if batch.failures:
            print(f"{label}: {len(batch.failures)} failed: {batch.failures[0].error}")
        per = sum(batch.task_seconds) / len(batch.task_seconds)
        rows.append((label, batch.workers, batch.seconds, per, batch.seconds / args.sims))
        ranks[label] = results_frame(batch.results).set_index(["sim", "parameter"])["rank"]
        print(f"{label:>6}: {batch.workers} worker(s), wall {batch.seconds:7.1f} s, "
              f"per_sim_s {per:5.2f}, wall per simulation {batch.seconds / args.sims:5.2f} s",
              flush=True)
    speedup = rows[0][2] / rows[1][2]
    same = (ranks["serial"] == ranks["local"]).mean()
    print(f"local vs serial wall: {speedup:.2f}x; identical ranks: {same:.1%}")


if __name__ == "__main__":
    main()
