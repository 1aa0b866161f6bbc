"""Prior sensitivity: power-scaling without refits, and a refit grid of alternative priors.

Power-scaling (Kallioinen et al. 2024, arviz-stats ``psense``) perturbs the prior or the
likelihood by a power alpha near 1 with importance weights and measures how far each posterior
moves (cumulative Jensen-Shannon distance per unit log-alpha). Only the *top-level* priors are
power-scaled (coefficients, thresholds/intercept, the group and form SDs, sigma): the standard
normal ``z_*`` and ``*_raw`` variables of the non-centred levels are the hierarchical part of
the model, not prior choices, as the priorsense authors recommend for multilevel models.

The refit grid (``run_models.py sensitivity``) is summarised by :func:`grid_table`: each
living-form contrast under each prior setting, and its shift from the default prior in units of
the default posterior SD. A joint two-part model adds its parts' contrasts, its total
effects and the correlation of its parts' complex effects (scale ``correlation``), under
the grid and the correlation's LKJ prior at other values of eta.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from models.build import is_structural

__all__ = ["PSENSE_THRESHOLD", "grid_table", "prior_var_names",
           "psense_figure", "psense_table", "sensitivity_figure"]

PSENSE_THRESHOLD = 0.05  # the published rule of thumb (arviz-stats default)


def prior_var_names(tree: xr.DataTree) -> list[str]:
    """The log-prior terms that are prior *choices* (power-scaled), in stored order."""
    return [v for v in tree["log_prior"].data_vars if not is_structural(v)]


def _reported(tree: xr.DataTree) -> list[str]:
    return [v for v in tree["posterior"].data_vars if not is_structural(v)]


def psense_table(tree: xr.DataTree, *, model: str,
                 threshold: float = PSENSE_THRESHOLD) -> pd.DataFrame:
    """Prior and likelihood power-scaling sensitivity per parameter, with the diagnosis.

    Columns: model, parameter, prior, likelihood, diagnosis, where diagnosis is
    ``prior-data conflict`` (both above ``threshold``), ``strong prior / weak likelihood``
    (prior above, likelihood below) or ``ok``. Needs the ``log_prior`` and
    ``log_likelihood`` groups (stored by every fit with ``predictive=True``).
    """
    from arviz_stats import psense_summary

    missing = [g for g in ("log_prior", "log_likelihood") if g not in tree.children]
    if missing:
        raise ValueError(f"{model}: power-scaling needs the {missing} group(s); refit with "
                         f"predictive checks on")
    quiet = logging.getLogger("arviz_stats.psense")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its generic warning is replaced by our diagnosis column
    try:
        table = psense_summary(tree, var_names=_reported(tree),
                               prior_var_names=prior_var_names(tree), threshold=threshold,
                               round_to=4)
    finally:
        quiet.setLevel(level)
    table = table.rename_axis("parameter").reset_index()
    table["diagnosis"] = table["diagnosis"].map({
        "potential prior-data conflict": "prior-data conflict",
        "potential strong prior / weak likelihood": "strong prior / weak likelihood",
    }).fillna("ok")
    table.insert(0, "model", model)
    return table


def psense_figure(tree: xr.DataTree, *, parameters: list[str] | None = None):
    """arviz-plots ``plot_psense_dist`` of the form/group SDs and living-form contrasts."""
    from arviz_plots import plot_psense_dist

    from diagnostics.plots import collection_figure

    names = parameters or [v for v in _reported(tree)
                           if v.startswith("sd_") or v.endswith("_contrast")]
    # alphas 0.95/1.05: the plot's default 0.8/1.25 collapses the importance weights of a
    # likelihood over thousands of rows into a few draws (spiky densities)
    pc = plot_psense_dist(tree, var_names=names, prior_var_names=prior_var_names(tree),
                          alphas=(0.95, 1.05), backend="matplotlib")
    fig = collection_figure(pc)
    n_rows = sum(int(np.prod([s for d, s in tree["posterior"][v].sizes.items()
                              if d not in ("chain", "draw")])) for v in names)
    fig.set_size_inches(9, 1.9 * n_rows + 1)
    fig.tight_layout()
    return fig


def grid_table(rows: pd.DataFrame, *, baseline: str = "default") -> pd.DataFrame:
    """Add each contrast's shift from the ``baseline`` prior, in baseline posterior SDs.

    ``rows`` has one row per (model, prior, scale, contrast) with mean, sd, q05, q95.
    ``shift_sd`` = (mean - baseline mean) / baseline sd; ``|shift_sd| > 0.5`` is marked
    ``moves`` -- the conclusion depends on the prior more than half a posterior SD.
    """
    keys = ["model", "scale", "contrast"]
    rows = rows.assign(width=rows["q95"] - rows["q05"])
    base = rows[rows["prior"] == baseline].set_index(keys)[["mean", "sd", "width"]]
    if base.empty:
        raise ValueError(f"the grid has no {baseline!r} prior setting to compare against")
    out = rows.merge(base.add_suffix("_base").reset_index(), on=keys, how="left")
    out["shift_sd"] = (out["mean"] - out["mean_base"]) / out["sd_base"]
    out["width_ratio"] = out["width"] / out["width_base"]
    out["moves"] = out["shift_sd"].abs() > 0.5
    return out.drop(columns=["mean_base", "sd_base", "width", "width_base"])


def sensitivity_figure(table: pd.DataFrame, *, scale: str = "latent"):
    """Per model: every contrast's 90% interval under each prior setting, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table[table["scale"] == scale]
    models = list(dict.fromkeys(rows["model"]))
    priors = list(dict.fromkeys(rows["prior"]))
    ncol = min(3, max(1, len(models)))
    nrow = max(1, -(-len(models) // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), squeeze=False)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    colors = plt.get_cmap("tab10")
    for ax, model in zip(axes.ravel(), models, strict=False):
        g = rows[rows["model"] == model]
        contrasts = list(dict.fromkeys(g["contrast"]))
        for j, prior in enumerate(priors):
            gp = g[g["prior"] == prior].set_index("contrast").reindex(contrasts)
            y = np.arange(len(contrasts))[::-1] + (j - (len(priors) - 1) / 2) * 0.8 / len(priors)
            ax.errorbar(gp["mean"], y, xerr=[gp["mean"] - gp["q05"], gp["q95"] - gp["mean"]],
                        fmt="o", ms=3, color=colors(j), label=prior, capsize=0, lw=1)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_yticks(np.arange(len(contrasts))[::-1], contrasts, fontsize=7)
        ax.set_ylim(-0.6, len(contrasts) - 0.4)  # one row (a correlation) stays compact
        unit = {"latent": "log-odds", "correlation": "correlation"}.get(scale,
                                                                         "percentage points")
        ax.set_title(f"{model} ({unit})", fontsize=9)
    axes.ravel()[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig
