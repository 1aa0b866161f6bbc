"""The same models written the plain-Bambi way, as a reference for benchmarks and checks.

:func:`bambi_model` turns a :class:`~models.spec.ModelSpec` and its
:class:`~models.design.ModelData` into a ``bambi.Model``: a data frame with the response,
one numeric column per column of ``data.X`` (sanitised names: ``age_group[2]`` ->
``age_group_2``) and the grouping labels (strings, as categoricals), and the formula
``response ~ t1 + t2 + ... + (1|living_form) + (1|complex_id)``. The formula is assembled
only from identifiers generated or validated here (never from raw user strings), so nothing
a config says can reach formulae's evaluator.

Differences from :func:`models.build.build_model` that are inherent to plain Bambi:

* ``hierarchical``: the focal level is an ordinary random intercept ``(1|living_form)``
  rather than a zero-sum effect, so it is only weakly identified beside the intercept or
  thresholds (the reason the hand-written builder exists);
* Bambi centres the predictors when there is an intercept (``center_predictors=True``), so
  the intercept prior applies to the centred intercept (the reported ``Intercept`` is
  un-centred by Bambi afterwards).

* thresholds: Bambi's ``Normal(linspace(-1, 1), threshold_sd)`` with an ordered transform,
  where :mod:`models.build` uses first cut ``Normal(0, threshold_sd)`` plus ``HalfNormal``
  gaps (a generative prior; see ``models.families._thresholds``). The likelihoods agree.

Priors otherwise follow the spec (``spec_priors=True``, the default): coefficients
``Normal(0, beta_sd)`` (or ``StudentT``), intercept ``Normal(mu, intercept_sd)``, group sds
``HalfNormal``, Gaussian
``sigma`` ``HalfNormal``, all with the Gaussian auto-scaling of :mod:`models.build`.
Bambi's sampler defaults (``model.fit()``: PyMC NUTS, ``jitter+adapt_diag``) are untouched.

The family object (:mod:`models.families`) supplies Bambi's family name, the response
column and its own priors (intercept or thresholds, sigma); the graded family has no plain
Bambi equivalent.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

import bambi as bmb
import numpy as np
import pandas as pd
import xarray as xr

from models.build import _prior_values, contrast_labels
from models.design import ModelData
from models.spec import ModelSpec

__all__ = [
    "RESPONSE",
    "bambi_contrasts",
    "bambi_frame",
    "bambi_model",
    "level_columns",
    "term_columns",
]

RESPONSE = "response"
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # no leading "_"
# names formulae/Bambi treat specially or that would shadow a transform in the formula
_RESERVED = frozenset({"C", "I", "Q", "S", "T", "Intercept", "center", "scale", "standardize",
                       "offset", "log", "exp", "np", "poly", "bs", "hsgp", "c", "p",
                       "threshold", "sigma", "mu", "True", "False", "None"})


def _sanitise(name: str) -> str:
    out = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]+", "_", name)).strip("_")
    if not _IDENT.match(out) or keyword.iskeyword(out) or out in _RESERVED:
        out = f"x_{out}"
    return out


def _unique(name: str, taken: set[str]) -> str:
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def level_columns(spec: ModelSpec) -> dict[str, str]:
    """Map each grouping level to its column in the Bambi frame (its own name if safe).

    Bambi names a random intercept after the column (``1|living_form``).
    """
    taken = {RESPONSE}
    return {lv: _unique(_sanitise(lv), taken) for lv in spec.levels}


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
    taken = {RESPONSE, *level_columns(spec).values()}
    mapping: dict[str, str] = {}
    for term in data.term_names:  # explicit names first, so automatic ones avoid them
        if term in frame_columns:
            col = frame_columns[term]
            if not isinstance(col, str) or not _IDENT.match(col) or keyword.iskeyword(col) \
                    or col in _RESERVED:
                raise ValueError(f"model {spec.name!r}: column name {col!r} for term "
                                 f"{term!r} is not a plain identifier")
            if col in taken:
                raise ValueError(f"model {spec.name!r}: column name {col!r} for term "
                                 f"{term!r} is already used")
            taken.add(col)
            mapping[term] = col
    for term in data.term_names:
        if term not in mapping:
            mapping[term] = _unique(_sanitise(term), taken)
    return {t: mapping[t] for t in data.term_names}


def bambi_frame(spec: ModelSpec, data: ModelData,
                frame_columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The data frame Bambi fits: response, one numeric column per term, grouping labels.

    The family gives the response column (a cumulative response is an ordered categorical
    of ``data.categories``; a family without a Bambi equivalent raises ``ValueError``).
    Grouping labels are categoricals of the string labels (what Bambi itself makes of a
    string column; a ``str`` column makes pandas warn inside Bambi); with the ``fixed``
    variant the focal level is an *ordered* categorical whose first category is the
    reference, which formulae then drops (treatment coding vs the reference; an unordered
    one would be re-sorted).
    """
    cols: dict[str, object] = {RESPONSE: spec.family_impl.bambi_response(spec, data)}
    for j, col in enumerate(term_columns(spec, data, frame_columns).values()):
        cols[col] = data.X[:, j].astype(float)
    for lv, col in level_columns(spec).items():
        labels = np.asarray(data.level_labels[lv], dtype=object)[data.level_idx[lv]]
        labels = labels.astype(str)
        if lv == spec.focal and spec.variant == "fixed":
            order = [spec.reference, *(x for x in data.level_labels[lv] if x != spec.reference)]
            cols[col] = pd.Categorical(labels, categories=order, ordered=True)
        else:
            cols[col] = pd.Categorical(labels, categories=list(data.level_labels[lv]))
    return pd.DataFrame(cols)


def _formula(spec: ModelSpec, terms: list[str]) -> str:
    cols = level_columns(spec)
    rhs = list(terms)
    if spec.focal and spec.variant == "fixed":
        rhs.append(cols[spec.focal])
    elif spec.focal and spec.variant == "hierarchical":
        rhs.append(f"(1|{cols[spec.focal]})")
    rhs += [f"(1|{cols[lv]})" for lv in spec.random_levels]
    for name in rhs:  # only identifiers generated or validated here reach the formula
        if not re.fullmatch(r"\(1\|[A-Za-z][A-Za-z0-9_]*\)|[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"model {spec.name!r}: refusing formula term {name!r}")
    # ordinal families have no intercept (the thresholds take its place): say so explicitly
    # rather than let Bambi drop it with a warning; the design matrix is the same
    zero = "" if spec.family_impl.has_intercept else "0 + "
    return f"{RESPONSE} ~ {zero}" + (" + ".join(rhs) if rhs else "1")


def _priors(spec: ModelSpec, data: ModelData, terms: list[str]) -> dict[str, object]:
    """The spec's priors (as :mod:`models.build` sets them) in Bambi's terms."""
    p = {k.removeprefix("prior_"): v for k, v in _prior_values(spec, data).items()}
    cols = level_columns(spec)
    if spec.prior["beta_nu"] > 0:
        beta = bmb.Prior("StudentT", nu=p["beta_nu"], mu=0.0, sigma=p["beta_sd"])
    else:
        beta = bmb.Prior("Normal", mu=0.0, sigma=p["beta_sd"])
    priors: dict[str, object] = dict.fromkeys(terms, beta)
    for lv in spec.random_levels:
        priors[f"1|{cols[lv]}"] = bmb.Prior(
            "Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=p["group_sd_scale"]))
    if spec.focal and spec.variant == "hierarchical":
        priors[f"1|{cols[spec.focal]}"] = bmb.Prior(
            "Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=p["focal_sd_scale"]))
    elif spec.focal and spec.variant == "fixed":
        priors[cols[spec.focal]] = bmb.Prior("Normal", mu=0.0, sigma=p["fixed_focal_sd"])
    # intercept or thresholds, sigma: the family's own
    for name, (dist, params) in spec.family_impl.bambi_priors(p, data).items():
        priors[name] = bmb.Prior(dist, **params)
    return priors


def bambi_model(spec: ModelSpec, data: ModelData, *,
                frame_columns: Mapping[str, str] | None = None,
                spec_priors: bool = True) -> bmb.Model:
    """``spec`` on ``data`` as a plain ``bambi.Model`` (not yet built; ``.build()``/``.fit()``).

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
    family = spec.family_impl.require_bambi(spec)  # ValueError for the graded family
    terms = list(term_columns(spec, data, frame_columns).values())
    frame = bambi_frame(spec, data, frame_columns)
    priors = _priors(spec, data, terms) if spec_priors else None
    return bmb.Model(_formula(spec, terms), frame, family=family, priors=priors)


def bambi_contrasts(spec: ModelSpec, data: ModelData, tree: xr.DataTree) -> xr.DataArray:
    """Focal contrasts vs the reference from a Bambi posterior, labelled like ours.

    ``hierarchical``: differences of the ``1|<focal>`` random intercepts, each other level
    minus the reference; ``fixed``: the ``<focal>`` treatment coefficients themselves. The
    result has dims ``(chain, draw, contrast)`` with labels ``"RB - HZ"`` in the order of
    :func:`models.build.contrast_labels`, so it lines up with ``<focal>_contrast`` of ours.
    """
    if not spec.focal or spec.variant == "none":
        raise ValueError(f"model {spec.name!r}: variant {spec.variant!r} has no contrasts")
    post = tree["posterior"].to_dataset() if isinstance(tree, xr.DataTree) else tree.posterior
    col = level_columns(spec)[spec.focal]
    name = f"1|{col}" if spec.variant == "hierarchical" else col
    if name not in post:
        raise KeyError(f"model {spec.name!r}: posterior has no {name!r} "
                       f"(variables: {sorted(post.data_vars)})")
    da = post[name]
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if len(dims) != 1:
        raise ValueError(f"model {spec.name!r}: {name!r} has dims {da.dims}, expected one "
                         f"besides chain and draw")
    dim = dims[0]
    present = {str(v) for v in da[dim].values}
    others = [lab for lab in data.level_labels[spec.focal] if lab != spec.reference]
    need = [*others, spec.reference] if spec.variant == "hierarchical" else others
    missing = [lab for lab in need if lab not in present]
    if missing:
        raise KeyError(f"model {spec.name!r}: {name!r} lacks level(s) {missing} "
                       f"(has {sorted(present)})")
    da = da.assign_coords({dim: [str(v) for v in da[dim].values]})
    out = da.sel({dim: others})
    if spec.variant == "hierarchical":
        out = out - da.sel({dim: spec.reference}, drop=True)
    out = out.rename({dim: "contrast"}).assign_coords(contrast=list(contrast_labels(spec, data)))
    return out.rename(f"{spec.focal}_contrast").transpose("chain", "draw", "contrast")
