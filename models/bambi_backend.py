"""The same models written the plain-Bambi way, as a reference for benchmarks and checks.

:func:`bambi_model` turns a :class:`~models.spec.ModelSpec` and its
:class:`~models.design.ModelData` into a ``bambi.Model``: a data frame with the response,
one numeric column per column of ``data.X`` and the grouping labels as strings, and the
formula ``response ~ t1 + t2 + ... + (1|living_form) + (1|complex_id)``. The formula is
assembled only from sanitised identifiers generated here (never from user strings), so
nothing a config says can reach formulae's evaluator.

Differences from :func:`models.build.build_model` that are inherent to plain Bambi:

* ``hierarchical``: the focal level is an ordinary random intercept ``(1|living_form)``
  rather than a zero-sum effect, so it is only weakly identified beside the intercept or
  thresholds (the reason the hand-written builder exists);
* Bambi centres the predictors when there is an intercept (``center_predictors=True``), so
  the intercept prior applies to the centred intercept (the reported ``Intercept`` is
  un-centred by Bambi afterwards).

Priors otherwise follow the spec (``spec_priors=True``, the default): coefficients
``Normal(0, beta_sd)`` (or ``StudentT``), intercept ``Normal(mu, intercept_sd)``, thresholds
``Normal(0, threshold_sd)`` ordered, group sds ``HalfNormal``, Gaussian ``sigma``
``HalfNormal``, all with the Gaussian auto-scaling of :mod:`models.build`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

import bambi as bmb
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from models.build import _prior_values, contrast_labels
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["RESPONSE", "bambi_contrasts", "bambi_frame", "bambi_model", "term_columns"]

RESPONSE = "response"
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# names formulae/Bambi treat specially or that would shadow a transform in the formula
_RESERVED = frozenset({"C", "I", "Q", "S", "T", "Intercept", "center", "scale", "standardize",
                       "offset", "log", "exp", "np", "poly", "bs", "hsgp", "c", "p",
                       "threshold", "sigma", "mu", "True", "False", "None"})


def _sanitise(name: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    out = re.sub(r"_+", "_", out)
    if not out or not out[0].isalpha() or keyword.iskeyword(out) or out in _RESERVED:
        out = f"x_{out}"
    return out


def term_columns(spec: ModelSpec, data: ModelData,
                 frame_columns: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each term name of ``data.X`` (``age_group[2]``) to a safe column name.

    ``frame_columns`` overrides the automatic names (``age_group[2]`` -> ``age_group_2``) for
    some or all terms; every resulting name must be a plain identifier, unique, and distinct
    from the response and the grouping columns.
    """
    frame_columns = dict(frame_columns or {})
    unknown = set(frame_columns) - set(data.term_names)
    if unknown:
        raise ValueError(f"model {spec.name!r}: frame_columns names unknown term(s) "
                         f"{sorted(unknown)}; terms are {list(data.term_names)}")
    taken = {RESPONSE, *spec.levels}
    mapping: dict[str, str] = {}
    for term in data.term_names:
        if term in frame_columns:
            col = frame_columns[term]
            if not _IDENT.match(col) or keyword.iskeyword(col) or col in _RESERVED:
                raise ValueError(f"model {spec.name!r}: column name {col!r} for term "
                                 f"{term!r} is not a plain identifier")
            if col in taken:
                raise ValueError(f"model {spec.name!r}: column name {col!r} for term "
                                 f"{term!r} is already used")
        else:
            base = col = _sanitise(term)
            k = 2
            while col in taken:
                col, k = f"{base}_{k}", k + 1
        taken.add(col)
        mapping[term] = col
    return mapping


def bambi_frame(spec: ModelSpec, data: ModelData,
                frame_columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The data frame Bambi fits: response, one numeric column per term, string groups.

    A cumulative response is an ordered categorical of ``data.categories``; with the
    ``fixed`` variant the focal level is a categorical whose first category is the
    reference (treatment coding vs the reference).
    """
    cols: dict[str, object] = {}
    if spec.family == "cumulative":
        cats = list(data.categories)
        cols[RESPONSE] = pd.Categorical(np.asarray(cats, dtype=object)[data.y],
                                        categories=cats, ordered=True)
    else:
        cols[RESPONSE] = np.asarray(data.y, dtype=float if spec.family == "gaussian" else int)
    for j, col in enumerate(term_columns(spec, data, frame_columns).values()):
        cols[col] = data.X[:, j].astype(float)
    for lv in spec.levels:
        labels = np.asarray(data.level_labels[lv], dtype=object)[data.level_idx[lv]]
        if lv == spec.focal and spec.variant == "fixed":
            order = [spec.reference, *(x for x in data.level_labels[lv] if x != spec.reference)]
            cols[lv] = pd.Categorical(labels, categories=order, ordered=True)
        else:
            # a categorical of the string labels, as Bambi would make of a str column itself
            # (passing str columns makes pandas warn inside Bambi's select_dtypes("object"))
            cols[lv] = pd.Categorical(labels.astype(str))
    return pd.DataFrame(cols)


def _formula(spec: ModelSpec, terms: list[str]) -> str:
    rhs = list(terms)
    if spec.focal and spec.variant == "fixed":
        rhs.append(spec.focal)
    elif spec.focal and spec.variant == "hierarchical":
        rhs.append(f"(1|{spec.focal})")
    rhs += [f"(1|{lv})" for lv in spec.random_levels]
    for name in rhs:  # only identifiers we generated or validated reach the formula
        if not re.fullmatch(r"\(1\|[A-Za-z_][A-Za-z0-9_]*\)|[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"model {spec.name!r}: refusing formula term {name!r}")
    # ordinal families have no intercept (the thresholds take its place): say so explicitly
    # rather than let Bambi drop it with a warning; the design matrix is the same
    zero = "0 + " if spec.family == "cumulative" else ""
    return f"{RESPONSE} ~ {zero}" + " + ".join(rhs)


def _priors(spec: ModelSpec, data: ModelData, terms: list[str]) -> dict[str, object]:
    p = {k.removeprefix("prior_"): v for k, v in _prior_values(spec, data).items()}
    if spec.prior["beta_nu"] > 0:
        beta = bmb.Prior("StudentT", nu=p["beta_nu"], mu=0.0, sigma=p["beta_sd"])
    else:
        beta = bmb.Prior("Normal", mu=0.0, sigma=p["beta_sd"])
    priors: dict[str, object] = dict.fromkeys(terms, beta)
    for lv in spec.random_levels:
        priors[f"1|{lv}"] = bmb.Prior(
            "Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=p["group_sd_scale"]))
    if spec.focal and spec.variant == "hierarchical":
        priors[f"1|{spec.focal}"] = bmb.Prior(
            "Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=p["focal_sd_scale"]))
    elif spec.focal and spec.variant == "fixed":
        priors[spec.focal] = bmb.Prior("Normal", mu=0.0, sigma=p["fixed_focal_sd"])
    if spec.family == "cumulative":
        n_cut = len(data.categories) - 1
        priors["threshold"] = bmb.Prior(
            "Normal", mu=0.0, sigma=p["threshold_sd"],
            transform=pm.distributions.transforms.ordered,
            initval=np.linspace(-1.0, 1.0, n_cut))
    else:
        priors["Intercept"] = bmb.Prior("Normal", mu=p["intercept_mu"], sigma=p["intercept_sd"])
    if spec.family == "gaussian":
        priors["sigma"] = bmb.Prior("HalfNormal", sigma=p["sigma_scale"])
    return priors


def bambi_model(spec: ModelSpec, data: ModelData, *,
                frame_columns: Mapping[str, str] | None = None,
                spec_priors: bool = True) -> bmb.Model:
    """``spec`` on ``data`` as a plain ``bambi.Model`` (not yet built).

    Parameters
    ----------
    spec, data
        The model specification and its prepared data.
    frame_columns
        Optional ``{term name: column name}`` overrides of the sanitised column names
        (default ``age_group[2]`` -> ``age_group_2``); see :func:`term_columns`.
    spec_priors
        Use the spec's priors (default); ``False`` keeps Bambi's own default priors.
    """
    mapping = term_columns(spec, data, frame_columns)
    terms = list(mapping.values())
    frame = bambi_frame(spec, data, frame_columns)
    priors = _priors(spec, data, terms) if spec_priors else None
    return bmb.Model(_formula(spec, terms), frame, family=spec.family, priors=priors)


def bambi_contrasts(spec: ModelSpec, data: ModelData, tree: xr.DataTree) -> xr.DataArray:
    """Focal contrasts vs the reference from a Bambi posterior, labelled like ours.

    ``hierarchical``: differences of the ``1|<focal>`` random intercepts, other level minus
    reference; ``fixed``: the ``<focal>`` treatment coefficients themselves. The result has
    dims ``(chain, draw, contrast)`` with labels ``"RB - HZ"`` in the order of
    :func:`models.build.contrast_labels`.
    """
    if not spec.focal or spec.variant == "none":
        raise ValueError(f"model {spec.name!r}: variant {spec.variant!r} has no contrasts")
    post = tree["posterior"].to_dataset() if isinstance(tree, xr.DataTree) else tree.posterior
    name = f"1|{spec.focal}" if spec.variant == "hierarchical" else spec.focal
    if name not in post:
        raise KeyError(f"model {spec.name!r}: posterior has no {name!r} "
                       f"(variables: {sorted(post.data_vars)})")
    da = post[name]
    (dim,) = (d for d in da.dims if d not in ("chain", "draw"))
    labels = contrast_labels(spec, data)
    others = [lab.removesuffix(f" - {spec.reference}") for lab in labels]
    if spec.variant == "hierarchical":
        out = da.sel({dim: others}) - da.sel({dim: spec.reference})
    else:
        out = da.sel({dim: others})
    out = out.rename({dim: "contrast"}).assign_coords(contrast=list(labels))
    return out.rename(f"{spec.focal}_contrast").transpose("chain", "draw", "contrast")
