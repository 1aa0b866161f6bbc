"""A finished run folder as Python objects: its tables as DataFrames, its fits as DataTrees."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import xarray as xr

__all__ = ["Run", "load_run"]


@dataclass(frozen=True)
class Run:
    """One run folder (``run_models.py fit --out FOLDER``, or :func:`clusterwonen.fit`).

    Tables are read from the folder's CSV files when first asked for; nothing is refitted.

    Attributes
    ----------
    folder
        The run folder.
    """

    folder: Path

    def table(self, name: str) -> pd.DataFrame:
        """The run's table ``<name>.csv`` (``effects``, ``summary``, ``diagnostics``,
        ``ppc``, ``loo``, ``psense``, ``compare``, ...)."""
        path = self.folder / f"{name}.csv"
        if not path.exists():
            have = sorted(p.stem for p in self.folder.glob("*.csv"))
            raise FileNotFoundError(f"{self.folder}: no table {name!r}; the run has {have}")
        return pd.read_csv(path)

    @property
    def tables(self) -> list[str]:
        """Names of the tables in the folder (for :meth:`table`)."""
        return sorted(p.stem for p in self.folder.glob("*.csv"))

    @cached_property
    def effects(self) -> pd.DataFrame:
        """The focal-level contrasts on the latent and the outcome scale (``effects.csv``)."""
        return self.table("effects")

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Every reported parameter: mean, interval, R-hat, ESS, verdict (``summary.csv``)."""
        return self.table("summary")

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """One convergence and model-check verdict per model (``diagnostics.csv``)."""
        return self.table("diagnostics")

    @cached_property
    def info(self) -> dict:
        """``run.json``: how the run was started (command line, config, versions), timings,
        and the models it fitted."""
        return json.loads((self.folder / "run.json").read_text())

    @property
    def models(self) -> list[str]:
        """The models the run fitted, in its order."""
        return [m["model"] for m in self.info.get("models", [])]

    @cached_property
    def trees(self) -> dict[str, xr.DataTree]:
        """Each model's saved fit (posterior, sample stats, predictive groups, the spec in
        its attributes) as an xarray DataTree, loaded into memory; an imputed model's
        first imputation."""
        from inference.imputation import imputation_path

        trees = {}
        for model in self.models:
            fits = self.folder / "fits"
            for path in (fits / f"{model}.nc", imputation_path(fits, model, 1)):
                if path.exists():
                    with xr.open_datatree(path, engine="netcdf4") as tree:
                        trees[model] = tree.load()
                    break
        return trees

    def report(self, *, config: str | Path | None = None) -> Path:
        """Rebuild ``report.html`` (and ``methods.md``) from the folder, as
        ``run_models.py report FOLDER``; returns the report's path."""
        from clusterwonen.command import run_command

        run_command("report", "--out", str(self.folder),
                    *(["--config", str(config)] if config else []))
        return self.folder / "report.html"


def load_run(folder: str | Path) -> Run:
    """The finished run in ``folder`` (a ``run.json`` and its tables); raises
    ``FileNotFoundError`` naming the folder otherwise."""
    folder = Path(folder)
    if not (folder / "run.json").exists():
        raise FileNotFoundError(f"{folder} is not a finished run folder (no run.json)")
    return Run(folder=folder)
