"""Same seed, same draws? A fresh compile against a cache-loaded one, numba fastmath on/off.

Usage::

    uv run python bench/bench_determinism.py [--outcomes contact,cohesion,gossip]
                                             [--draws N] [--tune N] [--chains N]

For each numba fastmath setting (PyTensor's default ``numba__fastmath=True`` and the
workbench's ``False``, see :mod:`inference.cache`) the script makes an empty PyTensor
``base_compiledir`` (which also holds numba's cache) and runs two processes one after the
other on it: *cold* (nothing compiled yet, as in a fresh clone) and *warm* (the cache the
first left). Each process fits the chosen default-suite models on the built-in default
data with one :class:`~inference.engine.Engine`, seed 1, and saves every posterior draw.

Printed per model and setting: compile and sampling seconds cold and warm, the minimum
bulk ESS, and the largest absolute difference between the cold and the warm draws
(``0`` = bit-identical). Nothing here is asserted; ``tests/test_public_data.py`` tests the
property on the workbench's setting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _worker(out: Path, outcomes: list[str], draws: int, tune: int, chains: int) -> None:
    """Fit ``outcomes`` in this process; write draws (npz) and timings (json)."""
    import numpy as np
    from arviz_stats import ess

    from data.simulate import simulated_study
    from data.suite import default_specs
    from inference.engine import Engine, SamplerSettings
    from models.design import prepare
    from workflows.setup import DEFAULT_SEED

    frame = simulated_study(seed=DEFAULT_SEED)[0].merged()
    specs, engine = default_specs(), Engine(progress=False)
    arrays, times = {}, {}
    for name in outcomes:
        spec = specs[name]
        tree = engine.fit(spec, prepare(frame, spec),
                          SamplerSettings(draws=draws, tune=tune, chains=chains, seed=1,
                                          predictive=False))
        post = tree["posterior"].dataset
        arrays[name] = np.concatenate([post[v].values.reshape(chains * draws, -1)
                                       for v in sorted(post.data_vars)], axis=1)
        keep = [v for v in post.data_vars if not v.startswith("z_")]
        low = min(float(ess(post[v], method="bulk").min()) for v in keep)
        times[name] = {k: engine.timings[-1][k] for k in ("compile_s", "sample_s")}
        times[name]["min_ess_bulk"] = low
    np.savez(out.with_suffix(".npz"), **arrays)
    out.with_suffix(".json").write_text(json.dumps(times))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--outcomes", default="contact,cohesion,gossip")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    outcomes = args.outcomes.split(",")
    if args.worker:
        return _worker(args.worker, outcomes, args.draws, args.tune, args.chains)

    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="bench_determinism_"))
    rows = []
    for fastmath in (True, False):
        base = work / f"fastmath_{fastmath}"
        env = os.environ | {"PYTENSOR_FLAGS": f"base_compiledir={base},"
                                              f"numba__fastmath={fastmath}"}
        runs = {}
        for state in ("cold", "warm"):
            out = work / f"{fastmath}_{state}"
            subprocess.run([sys.executable, __file__, "--worker", str(out),
                            "--outcomes", args.outcomes, "--draws", str(args.draws),
                            "--tune", str(args.tune), "--chains", str(args.chains)],
                           cwd=ROOT, env=env, check=True)
            runs[state] = (np.load(out.with_suffix(".npz")),
                           json.loads(out.with_suffix(".json").read_text()))
        for name in outcomes:
            (cold, tc), (warm, tw) = runs["cold"], runs["warm"]
            rows.append({"model": name, "fastmath": fastmath,
                         "compile_cold_s": tc[name]["compile_s"],
                         "compile_warm_s": tw[name]["compile_s"],
                         "sample_cold_s": tc[name]["sample_s"],
                         "sample_warm_s": tw[name]["sample_s"],
                         "min_ess_cold": tc[name]["min_ess_bulk"],
                         "max_abs_diff": float(np.abs(cold[name] - warm[name]).max())})
    print(f"{args.chains} chains x ({args.tune} + {args.draws}), seed 1, default data; "
          f"caches under {work}")
    print("| model | fastmath | compile cold / warm s | sample cold / warm s | "
          "min bulk ESS | cold vs warm max abs diff |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['fastmath']} | {r['compile_cold_s']:.1f} / "
              f"{r['compile_warm_s']:.1f} | {r['sample_cold_s']:.1f} / {r['sample_warm_s']:.1f}"
              f" | {r['min_ess_cold']:.0f} | {r['max_abs_diff']:.3g} |")


if __name__ == "__main__":
    main()
