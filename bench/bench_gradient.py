"""Cost of one log density + gradient of default-suite models, numba fastmath on vs off.

Usage::

    uv run python bench/bench_gradient.py [--models cohesion_items,contact,lonely] [--reps 5]

Builds each model of the default suite on the built-in default data (data seed 20261128),
compiles ``logp`` and its gradient with PyTensor's numba backend once with
``numba__fastmath=True`` (PyTensor's default) and once with ``False`` (the workbench's,
:mod:`inference.cache`), then times them interleaved (``--reps`` rounds of 200 calls at the
initial point) and prints the median microseconds per call. nutpie's sampling time is
gradients x this cost / cores, so this is the number that sets the floor.

A second table answers whether the item-level likelihood is worth writing by hand: a
(2,963 x 5) cumulative-logit likelihood with 5 categories as PyMC's ``OrderedLogistic`` on
the repeated latent (what ``models.families.Graded`` uses) against a gathered
``log(expit(a) - expit(b))`` of each answer's two cut points (a ``Potential``), same latent
and thresholds, same value.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="cohesion_items,contact,lonely")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)

    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from data.simulate import simulated_study
    from data.suite import default_specs
    from models.build import build_model
    from models.design import prepare
    from workflows.setup import DEFAULT_SEED

    frame = simulated_study(seed=DEFAULT_SEED)[0].merged()
    specs = default_specs()
    funcs = {}
    for name in args.models.split(","):
        spec = specs[name]
        model = build_model(spec, prepare(frame, spec))
        point = model.initial_point()
        values = [point[v.name] for v in model.value_vars]
        for fastmath in (True, False):
            pytensor.config.numba__fastmath = fastmath
            logp = model.logp()
            f = pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)],
                                  mode="NUMBA")
            f(*values)
            funcs[(name, fastmath)] = (f, values, sum(np.size(v) for v in values))
    times = _median_us({k: (f, values) for k, (f, values, _) in funcs.items()}, args.reps)
    item = _item_likelihoods(args.reps)
    print("| model | parameters | fastmath | logp + gradient, median us |")
    print("|---|---|---|---|")
    for (name, fastmath), (_, _, n) in funcs.items():
        print(f"| {name} | {n} | {fastmath} | {times[(name, fastmath)]:.0f} |")
    print()
    print("| item likelihood (2,963 x 5, 5 categories) | logp | logp + gradient, median us |")
    print("|---|---|---|")
    for kind, (value, us) in item.items():
        print(f"| {kind} | {value:.6f} | {us:.0f} |")


def _item_likelihoods(reps: int) -> dict[str, tuple[float, float]]:
    import numpy as np
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(0)
    n, n_item, n_cat = 2963, 5, 5
    y = rng.integers(0, n_cat, size=(n, n_item))
    funcs = {}
    for kind in ("OrderedLogistic", "gathered"):
        with pm.Model() as m:
            theta = pm.Normal("theta", 0.0, 1.0, shape=n)
            cuts = pm.Normal("cuts", np.linspace(-2, 2, n_cat - 1), 1.0,
                             shape=(n_item, n_cat - 1),
                             transform=pm.distributions.transforms.ordered)
            if kind == "OrderedLogistic":
                pm.OrderedLogistic("y", eta=pt.repeat(theta[:, None], n_item, axis=1),
                                   cutpoints=cuts, observed=y, compute_p=False)
            else:
                ext = pt.concatenate([pt.full((n_item, 1), -30.0), cuts,
                                      pt.full((n_item, 1), 30.0)], axis=1).flatten()
                upper = (np.arange(n_item)[None, :] * (n_cat + 1) + y + 1).ravel()
                lat = pt.repeat(theta, n_item)
                a, b = ext[upper] - lat, ext[upper - 1] - lat
                pm.Potential("y", (-pt.softplus(-a) - pt.softplus(b)
                                   + pt.log1mexp(b - a)).sum())
        logp = m.logp()
        f = pytensor.function(m.value_vars, [logp, *pt.grad(logp, m.value_vars)],
                              mode="NUMBA")
        point = m.initial_point()
        values = [point[v.name] for v in m.value_vars]
        funcs[kind] = (f, values, float(f(*values)[0]))
    times = _median_us({k: (f, values) for k, (f, values, _) in funcs.items()}, reps)
    return {k: (funcs[k][2], times[k]) for k in funcs}


def _median_us(funcs: dict, reps: int) -> dict:
    """Median microseconds per call of each ``(function, arguments)``, interleaved: ``reps``
    rounds of 200 calls each, so machine noise hits every function alike."""
    import numpy as np

    times = {k: [] for k in funcs}
    for _ in range(reps):
        for key, (f, values) in funcs.items():
            t = time.perf_counter()
            for _ in range(200):
                f(*values)
            times[key].append((time.perf_counter() - t) / 200 * 1e6)
    return {k: float(np.median(v)) for k, v in times.items()}


if __name__ == "__main__":
    main()
