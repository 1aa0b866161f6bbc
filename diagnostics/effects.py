"""Living-form effects on the probability scale by g-computation (average counterfactuals).

For every posterior draw, every analysed tenant is placed in each living form in turn and
the outcome distribution is averaged over tenants: "if this tenant population lived in
form f". Two estimands for the complex level:

* ``new_complex`` (default): a *new* complex of that form, integrating over the
  between-complex variation ``u ~ N(0, sd_complex^2)`` (Gauss-Hermite quadrature per draw);
* ``average_complex``: the average existing complex, ``u = 0``.

Intervals are computed draw-wise: the population average is formed per draw first, then
summarised (not the mean of per-unit bounds). Pure functions; nothing is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["ESTIMANDS", "event_label", "form_probabilities", "probability_effects"]

ESTIMANDS = ("new_complex", "average_complex")
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(15)
_GH_W = _GH_W / _GH_W.sum()
NON_CLUSTERED = ("GG", "LZ", "HZ")


def event_label(spec: ModelSpec, data: ModelData) -> tuple[str, int | None]:
    """The event a housing association reads: top category for ordinal outcomes (daily
    contact) except help (>= monthly); P(y = 1) for binary; the mean for Gaussian."""
    if spec.family == "bernoulli":
        return f"P({spec.response} = 1)", None
    if spec.family == "cumulative":
        cats = data.categories
        k = 1 if spec.outcome.startswith("help") else len(cats) - 1
        return f"P({spec.response} >= {cats[k]})", k
    return f"mean {spec.response}", None


def form_probabilities(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                       estimand: str = "new_complex", max_draws: int = 400,
                       seed: int = 0) -> xr.DataArray:
    """Posterior draws of the population-average event probability per living form.

    Returns an array with dims ``(sample, living_form)``.
    """
    if estimand not in ESTIMANDS:
        raise ValueError(f"unknown estimand {estimand!r}; choose one of {ESTIMANDS}")
    if not spec.focal or spec.variant == "none":
        raise ValueError(f"model {spec.name!r} has no living-form effect")
    if spec.family == "graded":
        raise ValueError("probability effects of the item-level model are not defined here")
    post = tree["posterior"]
    n_total = post.sizes["chain"] * post.sizes["draw"]
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(n_total, size=min(max_draws, n_total), replace=False))

    def draws(name):
        arr = post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
        return arr[take]

    beta = draws("beta")  # (S, p)
    forms = list(data.level_labels[spec.focal])
    if spec.variant == "hierarchical":
        effect = draws(f"{spec.focal}_effect")  # (S, F)
    else:
        contrast = draws(f"{spec.focal}_contrast")
        ref = forms.index(spec.reference)
        effect = np.insert(contrast, ref, 0.0, axis=1)
    base = data.X @ beta.T  # (n, S)
    if spec.family != "cumulative":
        base = base + draws("intercept")[None, :]
    sd = np.zeros(len(take))
    for lv in spec.random_levels:  # all random levels contribute variance for a new unit
        sd = sd + draws(f"sd_{lv}") ** 2
    sd = np.sqrt(sd) if estimand == "new_complex" else np.zeros_like(sd)
    _, k = event_label(spec, data)
    out = np.empty((len(take), len(forms)))
    for f in range(len(forms)):
        eta = base + effect[None, :, f]  # (n, S)
        if spec.family == "gaussian":
            out[:, f] = eta.mean(axis=0)
            continue
        # (n, S, Q) <- integrate the complex effect with per-draw sd
        lin = eta[:, :, None] + sd[None, :, None] * _GH_X[None, None, :]
        if spec.family == "bernoulli":
            p = expit(lin)
        else:
            tau = draws("thresholds")[:, k - 1]  # P(y >= cat_k) = 1 - expit(tau_{k-1} - eta)
            p = 1.0 - expit(tau[None, :, None] - lin)
        out[:, f] = (p @ _GH_W).mean(axis=0)
    return xr.DataArray(out, dims=("sample", spec.focal),
                        coords={spec.focal: forms}, name=event_label(spec, data)[0])


def probability_effects(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                        estimand: str = "new_complex", ci_prob: float = 0.9,
                        max_draws: int = 400) -> pd.DataFrame:
    """Per form and contrast (vs reference, vs the average non-clustered form), in
    percentage points for probabilities: mean, sd, interval and P(direction)."""
    probs = form_probabilities(tree, spec, data, estimand=estimand, max_draws=max_draws)
    scale = 1.0 if spec.family == "gaussian" else 100.0
    unit = "response units" if spec.family == "gaussian" else "percentage points"
    forms = list(probs[spec.focal].values)
    series = {f"{f}": probs.sel({spec.focal: f}).values * scale for f in forms}
    ref = probs.sel({spec.focal: spec.reference}).values * scale
    for f in forms:
        if f != spec.reference:
            series[f"{f} - {spec.reference}"] = series[f] - ref
    nc = [f for f in NON_CLUSTERED if f in forms]
    if len(nc) == len(NON_CLUSTERED):
        avg = np.mean([series[f] for f in nc], axis=0)
        for f in forms:
            if f not in nc:
                series[f"{f} - non-clustered"] = series[f] - avg
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    label, _ = event_label(spec, data)
    rows = []
    for name, v in series.items():
        is_contrast = " - " in name
        rows.append({"model": spec.name, "outcome": spec.outcome, "contrast": name,
                     "scale": "probability" if spec.family != "gaussian" else "response",
                     "estimand": estimand, "event": label,
                     "unit": unit if is_contrast else ("percent" if scale == 100 else unit),
                     "mean": float(v.mean()), "sd": float(v.std()),
                     "q05": float(np.quantile(v, lo)), "q95": float(np.quantile(v, hi)),
                     "p_positive": float((v > 0).mean()) if is_contrast else np.nan})
    return pd.DataFrame(rows)
