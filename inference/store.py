"""Save and load fits as traceable, atomically written ``xarray.DataTree`` files.

Every saved fit carries in its root attributes the spec JSON, the sampler settings, the
data hash, package versions and a hash over spec + data + settings (pymc-marketing's
``ModelIO`` idea). Loading recomputes the hash and refuses a mismatch; a rerun with the same
inputs reuses the file, and a crash never leaves a half-written file that looks valid
(temp file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import xarray as xr

from inference.files import atomic_write

__all__ = ["FitMismatchError", "fit_hash", "load_fit", "package_versions", "save_fit",
           "try_load_fit"]

log = logging.getLogger(__name__)
_PACKAGES = ("pymc", "pytensor", "nutpie", "bambi", "arviz-base", "arviz-stats", "numpy",
             "pandas", "xarray")


class FitMismatchError(ValueError):
    """A saved fit does not belong to the requested spec, data or settings."""


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that determine a posterior."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def fit_hash(spec_json: str, data_hash: str, settings_json: str) -> str:
    """Hash identifying a fit: spec + data + sampler settings."""
    h = hashlib.sha256("\x1f".join((spec_json, data_hash, settings_json)).encode())
    return h.hexdigest()[:20]


def save_fit(tree: xr.DataTree, path: Path, *, spec_json: str, data_hash: str,
             settings_json: str, extra: dict | None = None) -> xr.DataTree:
    """Write ``tree`` to ``path`` (netCDF) atomically, with provenance attributes.

    Returns the tree as saved (provenance attributes included), so that a fresh fit and a
    reloaded one look the same to the caller.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = tree.copy()
    out.attrs.update({
        "spec": spec_json,
        "sampler_settings": settings_json,
        "data_hash": data_hash,
        "fit_hash": fit_hash(spec_json, data_hash, settings_json),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        **{k: json.dumps(v) for k, v in (extra or {}).items()},
    })
    _drop_object_vars(out)
    compact(out)
    atomic_write(path, lambda tmp: out.to_netcdf(tmp, engine="netcdf4"))
    return out


COMPACT_GROUPS = {"posterior_predictive": "integers", "prior_predictive": "integers",
                  "log_likelihood": "float32", "log_prior": "float32"}


def compact(tree: xr.DataTree) -> None:
    """Store the per-row groups of a fit in the smallest safe type, in place: replicated
    data whose values are all whole numbers as ``int8``/``int16`` (categories, 0/1 events,
    counts; a Gaussian outcome's replicates stay as they are) and pointwise log densities as
    ``float32`` (7 significant digits: PSIS-LOO's elpd changes by far less than its own SE).
    The posterior itself keeps float64. These groups are the bulk of a fit (rows x draws),
    so a run holds 14 fits in a fraction of the memory and disk."""
    for group, how in COMPACT_GROUPS.items():
        if group not in tree.children or tree[group].dataset is None:
            continue
        ds = tree[group].dataset
        converted = {}
        for name, var in ds.data_vars.items():
            values = var.values
            if how == "float32" and values.dtype == np.float64:
                converted[name] = var.astype(np.float32)
            elif how == "integers" and values.size and (values.dtype.kind == "i" or (
                    values.dtype.kind == "f" and np.isfinite(values).all()
                    and (values == np.round(values)).all())):
                lo, hi = values.min(), values.max()
                for dtype in (np.int8, np.int16, np.int32):
                    if np.iinfo(dtype).min <= lo and hi <= np.iinfo(dtype).max and \
                            np.dtype(dtype).itemsize < values.dtype.itemsize:
                        converted[name] = var.astype(dtype)
                        break
        if converted:
            tree[group].dataset = ds.assign(converted)


def _drop_object_vars(tree: xr.DataTree) -> None:
    """netCDF cannot hold Python objects (nutpie's divergence messages); drop them."""
    for node in tree.subtree:
        ds = node.dataset
        if ds is None:
            continue
        bad = [k for k, v in ds.data_vars.items() if v.dtype == object]
        if bad:
            node.dataset = ds.drop_vars(bad)


def load_fit(path: Path, *, spec_json: str, data_hash: str, settings_json: str) -> xr.DataTree:
    """Load a fit, refusing it unless its hash matches the requested inputs."""
    tree = xr.open_datatree(Path(path), engine="netcdf4").load()
    tree.close()
    want = fit_hash(spec_json, data_hash, settings_json)
    got = tree.attrs.get("fit_hash")
    recomputed = fit_hash(tree.attrs.get("spec", ""), tree.attrs.get("data_hash", ""),
                          tree.attrs.get("sampler_settings", ""))
    if got != recomputed:
        raise FitMismatchError(f"{path}: stored hash {got} does not match its own attributes "
                               f"({recomputed}); the file was altered")
    if got != want:
        raise FitMismatchError(f"{path}: fit {got} was made with another spec, data or "
                               f"sampler settings (requested {want})")
    return tree


def try_load_fit(path: Path, *, spec_json: str, data_hash: str,
                 settings_json: str) -> xr.DataTree | None:
    """The saved fit if present and matching, else ``None`` (a stale file is logged)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load_fit(path, spec_json=spec_json, data_hash=data_hash,
                        settings_json=settings_json)
    except FitMismatchError as err:
        log.info("not reusing %s: %s", path, err)
    except (OSError, ValueError) as err:
        log.warning("not reusing unreadable %s: %s", path, err)
    return None
