"""Fit a suite of specs on one data set, reusing saved fits and compiled models."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import xarray as xr

from inference.engine import Engine, SamplerSettings
from inference.store import save_fit, try_load_fit
from models.design import ModelData, prepare
from models.spec import ModelSpec

__all__ = ["FitResult", "JointResult", "fit_joints", "fit_suite"]

log = logging.getLogger(__name__)


class _Imputed:
    """What a fit and a joint fit share under multiple imputation (``tree``, ``data``,
    ``pooled`` and ``imputed`` are the dataclass's fields)."""

    @property
    def posterior(self) -> xr.DataTree:
        """The draws to summarise: pooled over imputations, or the one fit's."""
        return self.pooled if self.pooled is not None else self.tree

    @property
    def pairs(self) -> list:
        """``[(data, tree), ...]``: every imputation's, or the one fit's."""
        return self.imputed or [(self.data, self.tree)]


@dataclass
class FitResult(_Imputed):
    """One fitted model: spec, prepared data, posterior tree, where it is saved."""

    spec: ModelSpec
    data: ModelData
    tree: xr.DataTree
    path: Path
    reused: bool
    seconds: float
    # multiple imputation (inference.imputation): the pooled draws, and every imputation's
    # (data, tree); ``data``/``tree`` are then the first imputation's
    pooled: xr.DataTree | None = None
    imputed: list | None = None

    @property
    def name(self) -> str:
        """The model's name."""
        return self.spec.name



def _load_or_fit(path: Path, spec_json: str, data_hash: str, settings: SamplerSettings,
                 fit: Callable[[], xr.DataTree], progress: Callable[[str], None],
                 label: str, fitting: str) -> tuple[xr.DataTree, bool]:
    """The saved fit at ``path`` if it matches spec, data and settings, else ``fit()``
    saved there at once (``progress`` says which, after ``label``). Returns
    ``(tree, reused)``."""
    keys = {"spec_json": spec_json, "data_hash": data_hash,
            "settings_json": settings.to_json()}
    tree = try_load_fit(path, **keys)
    if tree is not None:
        progress(f"{label}: reusing saved fit {path}")
        return tree, True
    progress(f"{label}: {fitting}")
    return save_fit(fit(), path, **keys), False


def _fit_checked(engine: Engine, spec: ModelSpec, data, settings: SamplerSettings
                 ) -> xr.DataTree:
    """``engine.fit`` and, where the likelihood integrates a latent per row out by
    quadrature, how far that quadrature errs at the fit's own draws (attribute
    ``quadrature``, JSON of :func:`diagnostics.crossval.quadrature_check`; the verdict
    reads it)."""
    tree = engine.fit(spec, data, settings)
    if getattr(spec.family_impl, "marginal", False):
        import json

        from diagnostics.crossval import quadrature_check

        tree.attrs["quadrature"] = json.dumps(quadrature_check(tree, spec, data))
    return tree


def fit_suite(specs: dict[str, ModelSpec], frame: pd.DataFrame, *,
              settings: SamplerSettings, fits_dir: Path, engine: Engine | None = None,
              progress: Callable[[str], None] = log.info) -> list[FitResult]:
    """Fit (or reuse) every spec; each fit is saved as soon as it is done.

    A rerun with identical spec, data and settings loads the saved file instead of sampling,
    so an interrupted suite resumes at the first model without a valid file.
    """
    engine = engine or Engine()
    results = []
    for i, (name, spec) in enumerate(specs.items(), start=1):
        t0 = time.perf_counter()
        data = prepare(frame, spec)
        path = Path(fits_dir) / f"{name}.nc"
        tree, reused = _load_or_fit(
            path, spec.to_json(), data.data_hash(), settings,
            partial(_fit_checked, engine, spec, data, settings), progress,
            f"[{i}/{len(specs)}] {name}",
            f"fitting {spec.family} model on {data.n} rows ({data.n_before - data.n} "
            f"incomplete rows removed) ...")
        results.append(FitResult(spec, data, tree, path, reused, time.perf_counter() - t0))
        progress(f"[{i}/{len(specs)}] {name}: done in {time.perf_counter() - t0:.0f} s")
    return results


@dataclass
class JointResult(_Imputed):
    """One fitted joint model of a two-part outcome (:mod:`models.joint`)."""

    joint: object  # models.joint.TwoPart
    data: tuple[ModelData, ModelData]  # (gate, part)
    tree: xr.DataTree
    path: Path
    reused: bool
    seconds: float
    pooled: xr.DataTree | None = None  # as FitResult's
    imputed: list | None = None  # [((d1, d2), tree), ...]

    @property
    def name(self) -> str:
        """The joint model's name."""
        return self.joint.name


def fit_joints(joints: dict, frame: pd.DataFrame, *, settings: SamplerSettings,
               fits_dir: Path, engine: Engine | None = None,
               progress: Callable[[str], None] = log.info) -> list[JointResult]:
    """Fit (or reuse) the joint model of every two-part outcome, saved as it finishes."""
    from models.joint import joint_data_hash

    engine = engine or Engine()
    settings = dataclasses.replace(settings, predictive=False)  # none for joint models
    results = []
    for i, (name, joint) in enumerate(joints.items(), start=1):
        t0 = time.perf_counter()
        d1, d2 = prepare(frame, joint.gate), prepare(frame, joint.part)
        path = Path(fits_dir) / f"{name}.nc"
        tree, reused = _load_or_fit(
            path, joint.to_json(), joint_data_hash(d1, d2), settings,
            partial(engine.fit_joint, joint, d1, d2, settings), progress,
            f"[joint {i}/{len(joints)}] {name}",
            f"fitting {joint.gate.name} and {joint.part.name} jointly on {d1.n} + {d2.n} "
            f"rows ...")
        results.append(JointResult(joint, (d1, d2), tree, path, reused,
                                   time.perf_counter() - t0))
        progress(f"[joint {i}/{len(joints)}] {name}: done in {time.perf_counter() - t0:.0f} s")
    return results
