"""Uniformity of simulation-based-calibration ranks: a test per parameter and the ECDF plot.

Input is the long table of :func:`inference.sbc.results_frame` (one row per simulation and
parameter with a randomised PIT value). Per parameter we report

* ``p_value`` -- arviz-stats' ``uniformity_test`` (method ``pot_c``, Tesso et al. 2026), which
  has power against local departures (too many extreme ranks, a shift, a bulge);
* ``coverage90`` -- the share of simulations whose truth fell inside the central 90%
  posterior interval (0.90 expected; below it the posteriors are overconfident);
* ``mean_pit`` -- 0.5 expected; above it the posteriors sit too low (the truth is above).

A parameter is ``miscalibrated`` when its p-value is below ``alpha / m`` (Bonferroni over the
m parameters of the model, so a calibrated model is flagged with probability <= alpha), and
the model is miscalibrated when any parameter is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["ALPHA", "sbc_figure", "sbc_tree", "uniformity_table"]

ALPHA = 0.05  # family-wise error rate of the per-model verdict


def sbc_tree(ranks: pd.DataFrame) -> xr.DataTree:
    """PIT values as a ``prior_sbc`` group (chain 1 x draw = simulation), as simuk stores."""
    wide = ranks.pivot(index="sim", columns="parameter", values="pit")
    wide = wide[list(dict.fromkeys(ranks["parameter"]))]  # model order, not alphabetical
    ds = xr.Dataset({p: (("chain", "draw"), wide[p].to_numpy()[None, :]) for p in wide},
                    coords={"chain": [0], "draw": wide.index.to_numpy()})
    return xr.DataTree.from_dict({"prior_sbc": ds})


def uniformity_table(ranks: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per parameter: simulations, p-value, coverage, mean PIT, verdict."""
    import arviz_stats  # noqa: F401 - registers the .azstats accessor

    tree = sbc_tree(ranks)
    ds = tree["prior_sbc"].dataset.dropna(dim="draw", how="any")
    p_values = ds.azstats.uniformity_test(dim=["chain", "draw"], method="pot_c")[0]
    m = len(ds.data_vars)
    rows = []
    for name in ds.data_vars:
        pit = ds[name].to_numpy().ravel()
        p = float(p_values[name])
        rows.append({"parameter": name, "sims": pit.size, "p_value": p,
                     "coverage90": float(np.mean((pit > 0.05) & (pit < 0.95))),
                     "mean_pit": float(pit.mean()),
                     "verdict": "miscalibrated" if p < alpha / m else "ok"})
    return pd.DataFrame(rows)


def sbc_figure(ranks: pd.DataFrame, *, prob: float = 0.95, max_panels: int = 36,
               table: pd.DataFrame | None = None):
    """ECDF difference of the PIT values per parameter, with simultaneous ``prob`` bands.

    The bands are arviz-stats' ``ecdf_utils.ecdf_pit`` (Säilynoja et al. 2022: pointwise
    levels adjusted by simulation so that the whole uniform ECDF stays inside with
    probability ``prob``), valid here because SBC's PIT values are independent across
    simulations. Drawn with matplotlib because arviz-plots 1.3's ``plot_ecdf_pit`` fails for
    its envelope method (``np.linspace`` given a DataArray) and its default ``pot_c`` method
    draws no band. Panels of miscalibrated parameters are shaded red.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from arviz_stats.ecdf_utils import ecdf_pit

    verdicts = {} if table is None else dict(zip(table["parameter"], table["verdict"],
                                                 strict=True))
    names = list(dict.fromkeys(ranks["parameter"]))[:max_panels]
    ncol = min(6, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.3 * ncol, 1.7 * nrow), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    rng = np.random.default_rng(214)
    for ax, name in zip(axes.ravel(), names, strict=False):
        pit = ranks.loc[ranks["parameter"] == name, "pit"].dropna().to_numpy()
        x, ecdf, lower, upper = ecdf_pit(pit, prob, n_simulations=1000, rng=rng)
        ax.fill_between(x, lower - x, upper - x, color="0.85", step="post", lw=0)
        ax.step(x, ecdf - x, where="post", color="tab:blue", lw=1)
        ax.axhline(0, color="0.5", lw=0.6)
        if verdicts.get(name) == "miscalibrated":
            ax.set_facecolor("#fde2e2")
        ax.set_title(name, fontsize=6.5)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"SBC: ECDF(PIT) - uniform CDF, {prob:.0%} simultaneous bands "
                 f"({len(set(ranks['sim']))} simulations)", fontsize=9)
    fig.tight_layout()
    return fig
