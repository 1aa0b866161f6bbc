"""Tidy result tables from fits (pure functions; the CLI writes them)."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from diagnostics.convergence import parameter_table

__all__ = ["SUMMARY_COLUMNS", "EFFECT_COLUMNS", "effects_latent", "summary_rows"]

SUMMARY_COLUMNS = ["model", "outcome", "parameter", "mean", "sd", "q05", "q95", "r_hat",
                   "ess_bulk", "ess_tail"]
EFFECT_COLUMNS = ["model", "outcome", "contrast", "scale", "mean", "sd", "q05", "q95"]


def summary_rows(tree: xr.DataTree, *, model: str, outcome: str) -> pd.DataFrame:
    """Parameter summary of a fit, without per-group offsets (``z_*``), zero-sum raw focal
    offsets or packed Cholesky factors (``chol_*``, summarised by ``sd_*``/``corr_*``),
    plus verdicts."""
    keep = [v for v in tree["posterior"].data_vars
            if not v.startswith(("z_", "chol_")) and not v.endswith("_raw")]
    table = parameter_table(tree, var_names=keep)
    table.insert(0, "outcome", outcome)
    table.insert(0, "model", model)
    return table


def effects_latent(table: pd.DataFrame) -> pd.DataFrame:
    """Latent-scale contrasts vs the reference from a :func:`summary_rows` table."""
    rows = table[table["variable"].str.endswith("_contrast")].copy()
    rows["contrast"] = rows["parameter"].str.extract(r"\[(.*)\]$", expand=False)
    rows["scale"] = "latent"
    return rows[EFFECT_COLUMNS].reset_index(drop=True)
