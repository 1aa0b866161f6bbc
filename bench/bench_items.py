"""The item-level cohesion model three ways: sampled latent vs latent integrated out.

Usage::

    uv run python bench/bench_items.py                 # every part
    uv run python bench/bench_items.py --parts accuracy,gradient
    uv run python bench/bench_items.py --parts sample --families graded,graded_equal
    uv run python bench/bench_items.py --parts sbc --families graded --sims 30 --n-tenants 300

On the built-in default data (data seed 20261128) and the default suite's
``cohesion_items`` spec, for the families ``graded_latent`` (a latent per tenant sampled,
non-centred), ``graded_equal`` (the latent integrated out by Gauss-Hermite quadrature, equal
loadings) and ``graded`` (integrated, a loading per item):

* ``accuracy``: the marginal log-likelihood summed over tenants at the ``graded`` model's
  posterior mode (and with ``sd_tenant`` doubled) for 7..31 quadrature nodes against a
  101-node reference, in nats per 1000 tenants;
* ``gradient``: median microseconds per log density + gradient (PyTensor's numba backend
  without fastmath, as the engine compiles; interleaved rounds of 200 calls at the initial
  point);
* ``sample``: one fit each with the default sampler settings (nutpie, 4 chains x 1000
  draws after 1000 warm-up, ``draw_diag``; the family's target acceptance unless
  ``--target-accept``), one after another in this process: wall seconds of sampling,
  leapfrog steps per draw, the least bulk and tail ESS over the reported parameters (the
  run's verdict set), min ESS per second of sampling and per 1000 gradient evaluations of
  the kept draws (independent of the machine's load), the largest R-hat and divergences;
* ``loo`` (with ``sample``, or alone with ``--load`` of posteriors written by ``--save``):
  PSIS-LOO per tenant of each fit (a tenant's answers together, the latent integrated out),
  the paired differences, equal vs free loadings as ``compare`` reports them
  (:func:`diagnostics.crossval.loadings_comparison`), and the fitted loadings.

* ``sbc`` (not in the default parts): simulation-based calibration of each family at a
  reduced design (``--n-tenants`` tenants in whole complexes, ``--sims`` simulations, each
  fitted with the ``sbc`` command's 2 x 300 draws after 300 unless ``--chains`` etc. are
  given), with :mod:`inference.sbc` as ``run_models.py sbc`` runs it; prints the
  uniformity table and writes ``ranks.csv``, ``uniformity.csv`` and ``ecdf.png`` per
  family under ``--save`` (default ``results/bench_items_sbc``).

``--chains``, ``--draws``, ``--tune`` shrink the sampling (default 4 x 1000 after 1000);
``--top-up N`` draws by target as the default run does (judged after ``--draws``, running
on until R-hat and ESS are met); ``--nodes`` sets the integrated families' quadrature.

Prints Markdown tables; nothing is written. The figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAMILIES = ("graded_latent", "graded_equal", "graded")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="accuracy,gradient,sample,loo")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--target-accept", type=float, default=None,
                   help="sampling: the run's target acceptance (default 0.9; a family's "
                        "floor still applies)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chains", type=int, help="sampling: chains (default 4; sbc 2)")
    p.add_argument("--draws", type=int, help="sampling: draws per chain (1000; sbc 300)")
    p.add_argument("--tune", type=int, help="sampling: warm-up per chain (1000; sbc 300)")
    p.add_argument("--top-up", type=int, default=None, dest="top_up",
                   help="sampling: draw by target -- chains judged after --draws and run on "
                        "until R-hat and ESS are met, at most N looks more (default: none)")
    p.add_argument("--nodes", type=int, default=None,
                   help="Gauss-Hermite nodes of the integrated families (default "
                        "models.item_response.NODES)")
    p.add_argument("--save", default=None, help="a folder to write each posterior to (.nc)")
    p.add_argument("--sims", type=int, default=30, help="sbc: simulations (default 30)")
    p.add_argument("--n-tenants", type=int, default=300,
                   help="sbc: whole complexes drawn (by form) until about this many tenants")
    p.add_argument("--load", default=None, help="loo without sample: a folder of posteriors "
                   "written by --save (<family>.nc)")
    args = p.parse_args(argv)

    from data.simulate import simulated_study
    from data.suite import default_specs
    from models.design import prepare
    from workflows.setup import DEFAULT_SEED

    if args.nodes is not None:  # the integrated families' quadrature (a class attribute)
        from models.families import Graded

        Graded.nodes = args.nodes
    frame = simulated_study(seed=DEFAULT_SEED)[0].merged()
    base = default_specs()["cohesion_items"]
    specs = {f: base.with_(family=f) for f in args.families.split(",")}
    data = {f: prepare(frame, s) for f, s in specs.items()}
    parts = args.parts.split(",")
    if "sbc" in parts:
        _sbc(base, frame, args)
    if "accuracy" in parts:
        _accuracy(base.with_(family="graded"), prepare(frame, base.with_(family="graded")))
    if "gradient" in parts:
        _gradient(specs, data, args.reps)
    if "sample" in parts:
        size = {k: getattr(args, k) for k in ("chains", "draws", "tune", "top_up")
                if getattr(args, k) is not None}
        trees = _sample(specs, data, args.seed, args.target_accept, args.save, size)
        if "loo" in parts:
            _loo(specs, data, trees)
    elif "loo" in parts and args.load:
        import xarray as xr

        _loo(specs, data, {f: xr.open_datatree(Path(args.load) / f"{f}.nc") for f in specs})


def _sbc(base, frame, args) -> None:
    from diagnostics.calibration import sbc_figure, uniformity_table
    from diagnostics.plots import save_figure
    from inference.engine import SamplerSettings
    from inference.files import write_csv
    from inference.parallel import run_tasks
    from inference.sbc import results_frame, sbc_task, sbc_tasks, subsample_design
    from models.design import prepare
    from workflows.sbc import SBC_SAMPLER

    given = {k: getattr(args, k) for k in SBC_SAMPLER if getattr(args, k) is not None}
    settings = SamplerSettings(seed=args.seed, predictive=False, **(SBC_SAMPLER | given))
    root = Path(args.save or ROOT / "results" / "bench_items_sbc")
    for family in args.families.split(","):
        spec = base.with_(family=family)
        design = subsample_design(frame, args.n_tenants, group=spec.levels[0],
                                  stratum=spec.focal, seed=args.seed)
        data = prepare(design, spec)
        out = root / family
        out.mkdir(parents=True, exist_ok=True)
        print(f"SBC of cohesion_items ({family}): {args.sims} simulations on {data.n} tenants "
              f"in {len(data.level_labels[spec.levels[0]])} complexes, "
              f"{settings.chains} x ({settings.tune} + {settings.draws}) draws", flush=True)
        t0 = time.perf_counter()
        tasks = sbc_tasks(spec, data, sims=args.sims, seed=args.seed, settings=settings)
        batch = run_tasks(sbc_task, tasks, store=out / "tasks",
                          shared={"spec": spec, "data": data}, scheduler="serial",
                          progress=lambda msg: print(f"  {msg}", flush=True))
        ranks = results_frame(batch.results)
        table = uniformity_table(ranks)
        write_csv(ranks, out / "ranks.csv")
        write_csv(table, out / "uniformity.csv")
        save_figure(sbc_figure(ranks, table=table), out / "ecdf.png")
        print(f"{len(batch.results)} fitted, {len(batch.failures)} failed, "
              f"{time.perf_counter() - t0:.0f} s")
        print(table.to_string(index=False, float_format="%.3f"))
        print()


def _params(spec, data):
    """The model, its ``y``'s parameters (eta, sd, thresholds, loadings) as a function of
    the value variables, and the posterior mode's point."""
    import pymc as pm

    from models.build import build_model

    model = build_model(spec, data)
    eta, sd, tau, loading = model["y"].owner.inputs[1:5]  # after the size
    outs = model.replace_rvs_by_values([eta, sd, tau, loading])
    f = model.compile_fn(outs, inputs=model.value_vars, point_fn=False,
                         on_unused_input="ignore")
    with model:
        mode = pm.find_MAP(progressbar=False, seed=1)
    point = {v.name: mode[v.name] for v in model.value_vars}
    return f, point


def _accuracy(spec, data) -> None:
    import numpy as np

    from models.item_response import marginal_log_likelihood

    f, point = _params(spec, data)
    eta, sd, tau, loading = (np.asarray(a) for a in f(*point.values()))
    eta, sd, tau, loading = eta.reshape(-1), float(np.ravel(sd)[0]), tau.reshape(
        tau.shape[-2:]), loading.reshape(-1)
    n = data.n
    print(f"posterior mode: sd_tenant {sd:.3f}, loadings {np.round(loading, 3).tolist()}")
    print()
    print("| nodes | at the mode: error, nats / 1000 tenants | sd_tenant x 2: error |")
    print("|---|---|---|")
    ref = {s: marginal_log_likelihood(data.y, eta, s, tau, loading, nodes=101).sum()
           for s in (sd, 2 * sd)}
    for q in (5, 7, 11, 15, 21, 31):
        err = [abs(marginal_log_likelihood(data.y, eta, s, tau, loading, nodes=q).sum()
                   - ref[s]) / n * 1000 for s in (sd, 2 * sd)]
        print(f"| {q} | {err[0]:.2e} | {err[1]:.2e} |")
    print()


def _gradient(specs, data, reps: int) -> None:
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    import inference.engine  # noqa: F401  (numba without fastmath, as the engine compiles)
    from models.build import build_model

    funcs = {}
    for name, spec in specs.items():
        model = build_model(spec, data[name])
        point = model.initial_point()
        values = [point[v.name] for v in model.value_vars]
        logp = model.logp()
        f = pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)],
                              mode="NUMBA")
        f(*values)
        funcs[name] = (f, values, sum(np.size(v) for v in values))
    times = {k: [] for k in funcs}
    for _ in range(reps):
        for key, (f, values, _) in funcs.items():
            t = time.perf_counter()
            for _ in range(200):
                f(*values)
            times[key].append((time.perf_counter() - t) / 200 * 1e6)
    print("| family | parameters | logp + gradient, median us |")
    print("|---|---|---|")
    for name, (_, _, n) in funcs.items():
        print(f"| {name} | {n} | {np.median(times[name]):.0f} |")
    print()


def _sample(specs, data, seed: int, target_accept: float | None, save: str | None,
            size: dict | None = None) -> dict:
    from diagnostics.convergence import parameter_table, reported_variables
    from inference.engine import Engine, SamplerSettings, effective_target_accept

    print("| family | target accept | compile s | sampling s | steps / draw | min bulk ESS "
          "| min tail ESS | min ESS / s | min ESS / 1000 gradients | max R-hat | divergences |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    trees = {}
    for name, spec in specs.items():
        settings = SamplerSettings(seed=seed, predictive=False, **(size or {}),
                                   **({} if target_accept is None else
                                      {"target_accept": target_accept}))
        spec_ta = effective_target_accept(spec, settings)  # at least the family's floor
        engine = Engine(progress=False)
        tree = engine.fit(spec, data[name], settings)
        t = engine.timings[-1]
        table = parameter_table(tree, var_names=reported_variables(tree))
        stats = tree["sample_stats"].to_dataset()
        bulk, tail = float(table["ess_bulk"].min()), float(table["ess_tail"].min())
        # gradients of the kept draws (warm-up not stored): load-independent efficiency
        grads = float(stats["n_steps"].sum())
        print(f"| {name} | {spec_ta} | {t['compile_s']:.0f} | {t['sample_s']:.0f} | "
              f"{float(stats['n_steps'].mean()):.1f} | {bulk:.0f} | {tail:.0f} | "
              f"{min(bulk, tail) / t['sample_s']:.2f} | {1000 * min(bulk, tail) / grads:.2f} | "
              f"{float(table['r_hat'].max()):.3f} | {int(stats['diverging'].sum())} |",
              flush=True)
        trees[name] = tree
        if getattr(spec.family_impl, "marginal", False):  # the quadrature at the draws
            from diagnostics.crossval import quadrature_check

            print(f"<!-- {name}: quadrature at the draws {quadrature_check(tree, spec, data[name])}"
                  f"; draws {t.get('rounds')} -->", flush=True)
        else:
            print(f"<!-- {name}: draws {t.get('rounds')} -->", flush=True)
        if save:
            tree.to_netcdf(Path(save) / f"{name}.nc")
    print()
    return trees


def _loo(specs, data, trees) -> None:
    """PSIS-LOO per tenant (each tenant's answers together, the latent integrated out) of
    every sampled family, compared as the run's ``loo.csv`` and ``compare`` do."""
    from diagnostics.compare import compare_table, loo_table
    from diagnostics.crossval import latent_integrated_tree

    fits = {name: latent_integrated_tree(tree, specs[name], data[name])
            for name, tree in trees.items()}
    print(loo_table(fits)[["model", "elpd_loo", "se", "p_loo", "pareto_k_bad"]]
          .to_string(index=False, float_format="%.1f"))
    print()
    print(compare_table(fits, outcome="cohesion_items")[["model", "elpd_diff", "dse"]]
          .to_string(index=False, float_format="%.1f"))
    equal = [f for f in trees if not specs[f].family_impl.free_loadings]
    free = [f for f in trees if specs[f].family_impl.free_loadings]
    if equal and free:  # as `compare` writes it to loadings.csv
        from diagnostics.crossval import loadings_comparison

        for e in equal:
            row = loadings_comparison((trees[e], specs[e], data[e]),
                                      (trees[free[0]], specs[free[0]], data[free[0]]),
                                      outcome="cohesion_items").iloc[0]
            print()
            print(f"{free[0]} - {e}: elpd_diff {row['elpd_diff']:.1f} (se {row['dse']:.1f}); "
                  f"elpd {row['elpd_free']:.1f} vs {row['elpd_equal']:.1f}; Pareto k > 0.7: "
                  f"{row['pareto_k_bad_free']} vs {row['pareto_k_bad_equal']} tenants; "
                  f"preferred: {row['preferred']} loadings")
    for tree in trees.values():
        if "loading" in tree["posterior"]:
            from diagnostics.convergence import parameter_table

            t = parameter_table(tree, var_names=["loading", "sd_tenant"])
            print()
            print(t[["parameter", "mean", "sd", "q05", "q95"]].to_string(
                index=False, float_format="%.3f"))
    print()


if __name__ == "__main__":
    main()
