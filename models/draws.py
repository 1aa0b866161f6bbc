"""Posterior draws as the estimand functions read them: one fixed random subset of draws.

Shared by the joint two-part model's total probabilities (:mod:`models.joint`) and every
estimand of :mod:`diagnostics.effects`; it lives here, below both, so that neither imports
the other for it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

__all__ = ["posterior_draws"]


def posterior_draws(tree: xr.DataTree, *, max_draws: int,
                    seed: int = 0) -> Callable[[str], np.ndarray]:
    """A function ``name -> (S, ...) array`` over a fixed random subset of draws."""
    post = tree["posterior"]
    n_total = post.sizes["chain"] * post.sizes["draw"]
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(n_total, size=min(max_draws, n_total), replace=False))

    def draws(name: str) -> np.ndarray:
        arr = post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
        return arr[take]

    return draws
