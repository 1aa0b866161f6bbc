"""Benchmark the default model suite: plain Bambi vs this workbench's default path.

Usage::

    uv run python bench/bench_suite.py [--outcomes a,b] [--draws N] [--tune N] [--chains N]
                                       [--seed S] [--cold] [--ways bambi,workbench]

``--ways workbench,workbench-numpyro`` (after ``uv sync --extra jax``) compares the
workbench's samplers instead: nutpie vs NumPyro through the same engine and models.

Simulates the default study (the built-in data set of ``run_models.py``, data seed
20261128; ``--seed`` is the sampler seed) and fits every outcome of the default suite two
ways in one process:

``bambi``
    :func:`models.bambi_backend.bambi_model` (same likelihood, terms and priors) fitted with
    ``model.fit()``: Bambi's defaults (PyMC NUTS, ``jitter+adapt_diag``, target_accept 0.8,
    ``cores`` = its default) except draws/tune/chains/seed and no progress bar.
    ``compile_s`` = building the Bambi model and its PyMC graph + the part of ``fit`` before
    the first draw arrives (gradient graph, PyTensor compile, NUTS initialisation; seen via
    a ``pm.sample`` callback); ``sample_s`` = the rest of ``fit`` (sampling, Bambi's
    post-processing). PyMC's default ``cores`` is half the CPU count (capped at 4), so on a
    2-core machine its chains run one after the other; nutpie runs chains in threads.
``workbench``
    ``Engine().fit(spec, data, SamplerSettings(draws, tune, chains, seed, predictive=False))``
    with one Engine for the whole suite, so a graph shape is compiled once (nutpie) and reused
    with new data; times from ``engine.timings``.

Per fit: ``min_ess_bulk`` = minimum bulk ESS (``arviz_stats.ess(..., method="bulk")``) over
every scalar of the posterior's parameters of interest: all posterior variables except the
per-group offsets of the non-focal (random) levels (ours ``z_complex_id``; Bambi's
``1|complex_id``; its ``*_offset`` variables are dropped by Bambi), with the focal contrasts
``living_form_contrast`` present in both (Bambi's computed by
:func:`models.bambi_backend.bambi_contrasts`). ``min_ess_contrast`` is the same over the
contrasts alone. ``ess_per_s`` = min_ess_bulk / total_s (wall time incl. compiling).
Suite ESS/s = sum of min_ess_bulk over models / sum of total_s; the ratio is
workbench / bambi. Data preparation (shared) is not timed.

``--cold`` points PyTensor's compiledir (and numba's cache) at a fresh temporary directory
for this process, so nothing compiled by earlier runs is reused.
"""

from __future__ import annotations

import os
import sys
import tempfile

# --cold must take effect before pytensor is imported (by anything below)
if "--cold" in sys.argv[1:] and "BENCH_SUITE_COLD_DIR" not in os.environ:
    _cold = tempfile.mkdtemp(prefix="bench_suite_cold_")
    os.environ["BENCH_SUITE_COLD_DIR"] = _cold
    _flags = os.environ.get("PYTENSOR_FLAGS", "")
    os.environ["PYTENSOR_FLAGS"] = ",".join(
        f for f in (_flags, f"base_compiledir={_cold}/pytensor") if f)
    os.environ["NUMBA_CACHE_DIR"] = f"{_cold}/numba"
    os.environ["JAX_COMPILATION_CACHE_DIR"] = f"{_cold}/jax"

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import arviz_stats as azs  # noqa: E402
import numpy as np  # noqa: E402
import nutpie  # noqa: E402, F401  (imported up front: import time is not compile time)
import pandas as pd  # noqa: E402
import pytensor  # noqa: E402
import xarray as xr  # noqa: E402

from data.simulate import analysis_frame  # noqa: E402
from data.suite import default_specs  # noqa: E402
from inference.engine import Engine, SamplerSettings  # noqa: E402
from models.bambi_backend import bambi_contrasts, bambi_model, level_columns  # noqa: E402
from models.design import ModelData, prepare  # noqa: E402
from models.spec import ModelSpec  # noqa: E402

log = logging.getLogger("bench_suite")
OUT = ROOT / "results" / "bench" / "bench_suite.csv"
COLUMNS = ["model", "way", "compile_s", "sample_s", "total_s", "min_ess_bulk", "ess_per_s",
           "divergences", "min_ess_contrast", "n_obs", "error"]


class _FirstDraw:
    """A ``pm.sample`` callback noting when the first draw (tuning included) arrives."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, trace=None, draw=None) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def _interest(post: xr.Dataset, drop: set[str]) -> xr.Dataset:
    return post[[v for v in post.data_vars if v not in drop]]


def _min_ess(ds: xr.Dataset) -> float:
    if not ds.data_vars:
        return float("nan")
    ess = azs.ess(ds, method="bulk")
    return float(min(np.nanmin(np.asarray(ess[v])) for v in ess.data_vars))


def _divergences(tree: xr.DataTree) -> int:
    stats = tree["sample_stats"].to_dataset()
    return int(stats["diverging"].sum()) if "diverging" in stats else -1


def _summary(post: xr.Dataset, drop: set[str], contrast: str, tree: xr.DataTree) -> dict:
    return {"min_ess_bulk": _min_ess(_interest(post, drop)),
            "min_ess_contrast": _min_ess(post[[contrast]]) if contrast in post else np.nan,
            "divergences": _divergences(tree)}


def fit_bambi(spec: ModelSpec, data: ModelData, args) -> dict:
    """Plain Bambi: build the model, ``fit()`` with defaults but the given sizes and seed."""
    t0 = time.perf_counter()
    model = bambi_model(spec, data)
    model.build()
    t_build = time.perf_counter() - t0
    first = _FirstDraw()
    t1 = time.perf_counter()
    tree = model.fit(draws=args.draws, tune=args.tune, chains=args.chains,
                     random_seed=args.seed, progressbar=False, callback=first)
    t_fit = time.perf_counter() - t1
    t_setup = (first.at or t1) - t1  # gradient graph, compiling, NUTS init: until 1st draw
    post = tree["posterior"].to_dataset()
    contrast = f"{spec.focal}_contrast" if spec.focal else ""
    if spec.focal and spec.variant != "none":
        post = post.assign({contrast: bambi_contrasts(spec, data, tree)})
    cols = level_columns(spec)
    drop = {f"1|{cols[lv]}" for lv in spec.random_levels}
    return {"compile_s": t_build + t_setup, "sample_s": t_fit - t_setup,
            "total_s": t_build + t_fit} | _summary(post, drop, contrast, tree)


def fit_workbench(engine: Engine, spec: ModelSpec, data: ModelData, args,
                  sampler: str = "nutpie") -> dict:
    """This workbench's path: nutpie, compiled structures reused across the suite (the
    default), or another of its samplers (``numpyro``: JAX, compiled per fit, XLA's
    persistent cache between processes)."""
    settings = SamplerSettings(sampler=sampler, draws=args.draws, tune=args.tune,
                               chains=args.chains, seed=args.seed, predictive=False)
    tree = engine.fit(spec, data, settings)
    t = engine.timings[-1]
    post = tree["posterior"].to_dataset()
    drop = {f"z_{lv}" for lv in spec.random_levels}
    contrast = f"{spec.focal}_contrast" if spec.focal else ""
    return {"compile_s": t["compile_s"], "sample_s": t["sample_s"],
            "total_s": t["total_s"]} | _summary(post, drop, contrast, tree)


def _row(name: str, way: str, n: int, fn) -> dict:
    row = {"model": name, "way": way, "n_obs": n, "error": ""}
    try:
        row |= fn()
    except Exception as exc:  # one failed fit must not lose the rest of the suite
        log.exception("%s / %s failed", name, way)
        row |= {"error": f"{type(exc).__name__}: {exc}"[:300]}
    if "total_s" in row and row.get("min_ess_bulk") is not None:
        row["ess_per_s"] = row["min_ess_bulk"] / row["total_s"]
    return row


def run(args) -> pd.DataFrame:
    specs = default_specs()
    names = list(specs) if not args.outcomes else [s.strip() for s in args.outcomes.split(",")]
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise SystemExit(f"unknown outcome(s) {unknown}; choose from {list(specs)}")
    frame = analysis_frame()  # the default data set of run_models.py
    engine = Engine()
    rows = []
    for name in names:
        spec = specs[name]
        data = prepare(frame, spec)
        log.info("%s: %d rows, family %s", name, data.n, spec.family)
        for way in args.ways:
            if way == "bambi":
                rows.append(_row(name, way, data.n, lambda s=spec, d=data: fit_bambi(s, d, args)))
            else:
                sampler = "nutpie" if way == "workbench" else way.removeprefix("workbench-")
                rows.append(_row(name, way, data.n, lambda s=spec, d=data, m=sampler:
                                 fit_workbench(engine, s, d, args, m)))
        print(_format(pd.DataFrame(rows[-len(args.ways):], columns=COLUMNS)), flush=True)
    return pd.DataFrame(rows, columns=COLUMNS)


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """Suite totals per way over the models every way fitted without error."""
    ok = table[table["error"] == ""]
    both = ok.groupby("model")["way"].nunique()
    ok = ok[ok["model"].isin(both[both == table["way"].nunique()].index)]
    out = ok.groupby("way")[["compile_s", "sample_s", "total_s", "min_ess_bulk",
                             "min_ess_contrast", "divergences"]].sum().reset_index()
    out.insert(0, "model", "TOTAL")
    out["ess_per_s"] = out["min_ess_bulk"] / out["total_s"]
    out["n_obs"] = ok.groupby("way")["n_obs"].sum().to_numpy()
    out["error"] = ""
    return out[COLUMNS]


def _format(df: pd.DataFrame) -> str:
    show = df.drop(columns=["error"]).copy()
    text = show.to_string(index=False, float_format=lambda x: f"{x:.1f}")
    errors = df.loc[df["error"] != "", ["model", "way", "error"]]
    for r in errors.itertuples():
        text += f"\n  ERROR {r.model} / {r.way}: {r.error}"
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--outcomes", default="", help="comma-separated outcomes (default: all)")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ways", default="bambi,workbench",
                   help="comma-separated, fitted in this order per model: bambi, workbench "
                        "(nutpie), workbench-numpyro (needs `uv sync --extra jax`), "
                        "workbench-pymc; ratios are against the first")
    p.add_argument("--cold", action="store_true",
                   help="fresh temporary PyTensor compiledir / numba cache for this process")
    p.add_argument("--out", type=Path, default=OUT, help=f"CSV path (default {OUT})")
    args = p.parse_args(argv)
    args.ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    known = {"bambi", "workbench", "workbench-numpyro", "workbench-pymc"}
    if not args.ways or set(args.ways) - known:
        p.error(f"--ways: choose from {sorted(known)}")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("bench_suite", "inference"):  # PyMC and Bambi log through their own handlers
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    cold = os.environ.get("BENCH_SUITE_COLD_DIR")
    if args.cold:
        log.info("cold start: compiledir %s", pytensor.config.compiledir)
    try:
        table = run(args)
    finally:
        if cold and args.cold:
            shutil.rmtree(cold, ignore_errors=True)
    tot = totals(table)
    full = pd.concat([table, tot], ignore_index=True)
    print(f"\nsettings: draws={args.draws} tune={args.tune} chains={args.chains} "
          f"seed={args.seed} cold={args.cold} ways={','.join(args.ways)}")
    print(_format(full))
    print("\nmin_ess_bulk: min bulk ESS over all posterior scalars except per-complex offsets "
          "(ours z_complex_id, Bambi 1|complex_id), contrasts included in both.")
    print("ess_per_s = min_ess_bulk / total_s (wall time incl. compiling); suite ESS/s = "
          "sum(min_ess_bulk) / sum(total_s) over the models every way fitted.")
    t = tot.set_index("way")
    first = args.ways[0]
    for way in args.ways[1:]:
        if way in t.index and first in t.index:
            ratio = t.loc[way, "ess_per_s"] / t.loc[first, "ess_per_s"]
            speed = t.loc[first, "total_s"] / t.loc[way, "total_s"]
            print(f"suite ESS/s: {way} {t.loc[way, 'ess_per_s']:.2f}, {first} "
                  f"{t.loc[first, 'ess_per_s']:.2f}; ratio {way}/{first} = {ratio:.2f} "
                  f"(wall time {first}/{way} = {speed:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    full.assign(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                cold=args.cold).to_csv(args.out, index=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
