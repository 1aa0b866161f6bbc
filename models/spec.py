"""Declarative model specifications: one frozen spec per outcome and variant.

A spec names the response, family, terms, grouping levels and priors; nothing else.
:func:`models.build.build_model` turns a spec plus prepared data into a ``pm.Model``.
A new variant is a new spec (``dataclasses.replace``), not a new branch in the builder.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType

from models.families import FAMILIES as FAMILY_REGISTRY
from models.families import Cumulative, Family, get_family
from models.terms import Covariate, split_outside

__all__ = [
    "DEFAULT_PRIORS",
    "DEFAULT_PRIOR_GRID",
    "FAMILIES",
    "VARIANTS",
    "ModelSpec",
    "check_priors",
    "comparison_variants",
    "parse_terms",
    "prior_grid",
    "specs_from_config",
]

FAMILIES = tuple(FAMILY_REGISTRY)  # the family names (models.families holds the objects)
VARIANTS = ("hierarchical", "fixed", "none")

# Weakly informative priors on the latent (logit) scale; one place, documented, overridable.
# Never centred on the simulator's truth: every location is 0 (or the data mean for a
# Gaussian intercept), every scale generic.
DEFAULT_PRIORS = MappingProxyType({
    "beta_sd": 1.5,          # coefficients ~ Normal(0, beta_sd) (per unit of each term)
    "beta_nu": 0.0,          # > 0: coefficients ~ StudentT(nu, 0, beta_sd) (heavy tails)
    "intercept_sd": 3.0,     # intercept ~ Normal(0, intercept_sd)   (bernoulli)
    "threshold_sd": 3.0,     # first cut ~ Normal(0, sd), gaps ~ HalfNormal(sd)  (cumulative)
    "focal_sd_scale": 1.0,   # hierarchical: sd of focal-level effects ~ HalfNormal(scale)
    "fixed_focal_sd": 1.5,   # fixed: focal-level contrasts vs reference ~ Normal(0, sd)
    "group_sd_scale": 1.0,   # sd of each random-intercept level ~ HalfNormal(scale)
    "sigma_scale": 1.0,      # gaussian residual sd ~ HalfNormal(scale)  (x sd(y))
    "tenant_sd_scale": 1.0,  # graded: sd of the row-level latent trait ~ HalfNormal(scale)
    "lkj_eta": 2.0,          # varying slopes: correlations ~ LKJ(eta) (1: uniform)
})
# For a Gaussian family, beta_sd, intercept_sd, the sd scales and sigma_scale are multiplied
# by the response's sample sd and the intercept is centred on its mean (Bambi's auto-scaling).

# Refit-based sensitivity (``run_models.py sensitivity``): named alternatives applied on top of
# the run's priors; a config's [sensitivity.<name>] tables replace this grid. "default" (no
# change) is always fitted as the baseline every shift is measured from.
DEFAULT_PRIOR_GRID = MappingProxyType({
    "default": {},
    "sd_tight": {"focal_sd_scale": 0.25, "group_sd_scale": 0.25, "tenant_sd_scale": 0.25},
    "sd_wide": {"focal_sd_scale": 2.5, "group_sd_scale": 2.5, "tenant_sd_scale": 2.5},
    "beta_tight": {"beta_sd": 0.5, "fixed_focal_sd": 0.5},
    "beta_wide": {"beta_sd": 5.0, "fixed_focal_sd": 5.0},
    "heavy_tails": {"beta_nu": 3.0},  # Student-t(3) coefficients (a separate compiled graph)
})

# Version of what build_model makes of a spec; part of every spec's JSON (so of fit hashes,
# SBC and grid fingerprints): saved fits of an older graph are never reused. 2: generative
# threshold prior (first cut + positive gaps) instead of an ordered-transformed Normal.
# 3: centred or non-centred random levels by data (hierarchical centring of nested ones),
# varying slopes, binomial trials, level names kept apart from the builder's own.
BUILDER_VERSION = 3

# Dims and variables the model builder makes itself. A grouping column with one of these
# names is renamed inside the model only (its dim and its ``sd_``/``z_``/``idx_`` variables
# get the suffix ``_level``); tables and reports keep the column's own name.
RESERVED_NAMES = frozenset({
    "obs", "term", "threshold", "contrast", "item", "coef", "coef_", "chain", "draw", "sample",
    "y", "X", "y_obs", "trials", "beta", "intercept", "sigma", "thresholds", "threshold_first",
    "threshold_gaps"})
PARAMETRISATIONS = ("auto", "centered", "noncentered")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TERM = re.compile(r"^(?:(?P<fn>C|scale|center)\(\s*(?P<arg>[A-Za-z_][A-Za-z0-9_]*)\s*"
                   r"(?:,\s*ref\s*=\s*(?P<ref>\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.+-]+)\s*)?\)|"
                   r"(?P<name>[A-Za-z_][A-Za-z0-9_]*))$")


def check_priors(priors: dict, *, owner: str) -> None:
    """Raise ``ValueError`` naming ``owner`` and the key for an unknown or invalid prior."""
    unknown = sorted(set(priors) - set(DEFAULT_PRIORS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(DEFAULT_PRIORS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{owner}: unknown prior(s) {unknown}{hint}; "
                         f"known: {sorted(DEFAULT_PRIORS)}")
    for key, value in priors.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool) and \
            math.isfinite(value) and (value > 0 or (key == "beta_nu" and value >= 0))
        if not ok:
            raise ValueError(f"{owner}: prior {key!r} must be a positive finite number, "
                             f"got {value!r}")


@dataclass(frozen=True)
class ModelSpec:
    """A multilevel regression of one response on terms, nested in grouping levels.

    Parameters
    ----------
    name
        Unique model name (file names, tables).
    outcome, response
        Outcome label and the column holding the response.
    family
        Name of a family of :data:`models.families.FAMILIES`: ``bernoulli`` (logit link),
        ``cumulative`` (cumulative logit), ``gaussian``, ``graded`` (item level);
        :attr:`family_impl` is the object.
    terms
        Fixed terms (:class:`models.terms.Covariate`: row-level and group-level columns).
    levels
        Grouping columns from lowest to highest (e.g. class, school); each level is nested in
        the next. The highest is the *focal* level when ``focal`` is set. At least one.
    focal, reference
        The level whose contrasts vs ``reference`` are the estimand.
    level_order
        Order of the focal level's labels in coordinates and tables (labels not listed
        follow, sorted); default: sorted.
    variant
        ``hierarchical``: focal effects partially pooled, zero-sum (identified beside the
        intercept/thresholds); ``fixed``: treatment contrasts vs reference;
        ``none``: no focal effect (for comparison).
    subset
        Rows the outcome is defined on, as ``column >= value`` style conditions.
    categories
        Ordered response levels of an ordinal model (default: the sorted values in the data).
    event
        Ordinal families: the index of the category from which the event read on the
        probability scale starts, ``P(y >= categories[event])``; default the top category.
    sd_by_focal
        The lowest random level's SD differs by the focal level (brms ``gr(complex,
        by = form)``): ``sd_<level>`` has the focal level's dim and a group's effect is
        ``sd[focal of the group] * z``. Needs the lowest level nested directly in the
        focal one. A relaxed variant for ``compare``.
    focal_by_category
        Cumulative family, hierarchical variant: the focal effects differ by threshold
        (category-specific effects, brms ``cs()``; non-proportional odds for the focal
        level): ``P(y <= k) = expit(threshold_k - eta - effect[focal, k])``. A relaxed
        variant for ``compare``; the probability scale reads the event's own threshold.
    focal_centered
        Hierarchical variant: centred (``effect ~ ZeroSumNormal(sd)``) instead of
        non-centred (``effect = sd * ZeroSumNormal(1)``) focal effects.
    id_column
        Column identifying a row in messages and ``row_ids`` (default: the frame's first
        column in messages, the row index in ``row_ids``).
    items, reversed_items
        ``graded`` family: the item columns of one latent trait (a row-level latent with
        item-specific cumulative-logit thresholds), and which of them to reverse first.
    trials
        ``binomial`` family: the column holding each row's number of trials (the response
        holds the successes).
    nested
        ``True``: each level is nested in the next (a lower-level id reused under two
        parents names two groups, as lme4's ``(1 | batch/cask)``); ``False``: the levels are
        crossed (``(1 | plate) + (1 | sample)``), ids used as they are.
    slopes
        Varying slopes as ``"term|level"``: the coefficient(s) of a term of ``terms`` vary
        by a random level, with correlated group effects (lme4's ``(1 + x | g)``; an LKJ
        prior on the correlations, non-centred).
    adjustment
        The name of the covariate set the terms are (e.g. a study's ``pre_residence``
        confounders only), carried into the effects tables; ``None``: the terms as declared.
    parametrisation
        Per random level, ``"level=centered"`` or ``"level=noncentered"``; levels not named
        are ``auto``: chosen from how informative the data are about each group
        (:func:`models.design.choose_parametrisation`).
    priors
        Overrides merged over :data:`DEFAULT_PRIORS`.
    """

    name: str
    outcome: str
    response: str
    family: str
    terms: tuple[Covariate, ...] = ()
    levels: tuple[str, ...] = ()
    focal: str | None = None
    reference: str | None = None
    level_order: tuple[str, ...] = ()
    variant: str = "hierarchical"
    subset: str | None = None
    categories: tuple = ()
    event: int | None = None
    id_column: str | None = None
    items: tuple[str, ...] = ()
    reversed_items: tuple[str, ...] = ()
    focal_centered: bool = False
    sd_by_focal: bool = False
    focal_by_category: bool = False
    trials: str | None = None
    nested: bool = True
    slopes: tuple[str, ...] = ()
    parametrisation: tuple[str, ...] = ()
    adjustment: str | None = None
    priors: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        family = get_family(self.family, owner=f"model {self.name!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"model {self.name!r}: unknown variant {self.variant!r}; "
                             f"choose one of {VARIANTS}")
        if len(self.levels) < 1:
            raise ValueError(f"model {self.name!r}: needs at least one grouping level")
        family.check_spec(self)
        for col in (self.response, *self.levels, *(c for t in self.terms for c in t.columns),
                    *self.items, *([self.trials] if self.trials else [])):
            if not _NAME.match(col):
                raise ValueError(f"model {self.name!r}: {col!r} is not a plain column name")
        if self.focal is not None and self.focal != self.levels[-1]:
            raise ValueError(f"model {self.name!r}: focal level {self.focal!r} must be the "
                             f"highest level ({self.levels[-1]!r})")
        if self.event is not None and not (family.ordinal and isinstance(self.event, int)
                                           and self.event >= 1):
            raise ValueError(f"model {self.name!r}: event must be a category index >= 1 of an "
                             f"ordinal family, got {self.event!r} ({self.family})")
        keys = [self.level_key(lv) for lv in self.levels]
        if len(set(keys)) < len(keys) or len(set(self.levels)) < len(self.levels):
            raise ValueError(f"model {self.name!r}: grouping levels {list(self.levels)} are "
                             f"not distinct (inside the model: {keys})")
        self._check_slopes()
        if self.sd_by_focal and not (self.focal and self.nested
                                     and self.random_levels[-1:] == self.levels[-2:-1]
                                     and len(self.random_levels) == 1 and not self.slopes):
            raise ValueError(f"model {self.name!r}: sd_by_focal needs one random level, "
                             f"without slopes, nested directly in the focal level")
        if self.focal_by_category and not (self.focal and self.variant == "hierarchical"
                                           and isinstance(self.family_impl, Cumulative)):
            raise ValueError(f"model {self.name!r}: focal_by_category needs the cumulative "
                             f"family and hierarchical focal effects")
        for entry in self.parametrisation:
            level, _, how = entry.partition("=")
            if level not in self.random_levels or how not in PARAMETRISATIONS or \
                    (self.slope_terms(level) and how == "centered"):
                raise ValueError(f"model {self.name!r}: parametrisation {entry!r} must be "
                                 f"'level=centered|noncentered|auto' for a random level "
                                 f"({list(self.random_levels)}); a level with varying "
                                 f"slopes is always non-centred")
        check_priors(self.priors, owner=f"model {self.name!r}")
        object.__setattr__(self, "priors", MappingProxyType(dict(self.priors)))

    def _check_slopes(self) -> None:
        names = {t.name for t in self.terms}
        for entry in self.slopes:
            term, _, level = entry.partition("|")
            if term not in names or level not in self.random_levels:
                raise ValueError(
                    f"model {self.name!r}: slope {entry!r} must be 'term|level' with a term of "
                    f"the model ({sorted(names)}) and a random level "
                    f"({list(self.random_levels)}); the focal level takes no slopes")

    def level_key(self, level: str) -> str:
        """The name of a grouping level inside the model (its dim and variable suffix).

        The level itself unless the builder uses that name (:data:`RESERVED_NAMES`, or the
        family's own, e.g. the graded family's ``tenant`` latent): then ``<level>_level``.
        """
        taken = RESERVED_NAMES | self.family_impl.reserved_names
        return f"{level}_level" if level in taken else level

    def slope_terms(self, level: str) -> tuple[str, ...]:
        """The terms whose coefficients vary by ``level`` (in the spec's order)."""
        return tuple(e.partition("|")[0] for e in self.slopes if e.partition("|")[2] == level)

    def parametrisation_of(self, level: str) -> str:
        """``centered``, ``noncentered`` or ``auto`` (the default) for a random level."""
        for entry in self.parametrisation:
            name, _, how = entry.partition("=")
            if name == level:
                return how
        return "auto"

    @property
    def family_impl(self) -> Family:
        """The response family object (:mod:`models.families`) named by ``family``."""
        return get_family(self.family)

    @property
    def prior(self) -> dict[str, float]:
        """Defaults merged with overrides (``defaults | overrides``)."""
        return dict(DEFAULT_PRIORS) | dict(self.priors)

    @property
    def random_levels(self) -> tuple[str, ...]:
        """Levels modelled as random intercepts (all but the focal one)."""
        return self.levels[:-1] if self.focal else self.levels

    @property
    def structure_key(self) -> str:
        """What fixes the compiled graph: family, terms, levels, variant (not data/priors)."""
        return json.dumps([self.family, [t.term_names() for t in self.terms],
                           len(self.levels), self.focal is not None, self.variant,
                           self.focal_centered, self.slopes, self.sd_by_focal,
                           self.focal_by_category,
                           self.prior["beta_nu"] > 0])

    def with_(self, **changes) -> ModelSpec:
        """A new spec with ``changes`` (priors are merged, not replaced)."""
        if "priors" in changes:
            changes["priors"] = dict(self.priors) | dict(changes["priors"])
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """Canonical JSON (stored with every fit, hashed for cache keys)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["priors"] = self.prior
        d["terms"] = [dataclasses.asdict(t) for t in self.terms]
        d["builder_version"] = BUILDER_VERSION
        for flag in ("sd_by_focal", "focal_by_category"):  # absent unless set: saved
            if not d[flag]:                                 # fits of other specs stay valid
                del d[flag]
        return json.dumps(d, sort_keys=True, default=list)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        """The spec a :meth:`to_json` string (e.g. a saved fit's ``spec`` attribute) describes.

        Lists become tuples, terms :class:`~models.terms.Covariate`; only priors that differ
        from :data:`DEFAULT_PRIORS` are kept as overrides, so the result's ``to_json`` is
        the input. A string from another builder version still gives its spec (the fit
        store, not this, refuses to reuse such fits).
        """
        d = json.loads(text)
        d.pop("builder_version", None)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"spec JSON has unknown field(s) {sorted(unknown)}")
        d["terms"] = tuple(Covariate(**{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in t.items()}) for t in d.get("terms", ()))
        d["priors"] = {k: v for k, v in d.get("priors", {}).items()
                       if DEFAULT_PRIORS.get(k) != v}
        for key, value in d.items():
            if isinstance(value, list):
                d[key] = tuple(value)
        return cls(**d)


def parse_terms(formula_rhs: str, *, known: set[str]) -> tuple[Covariate, ...]:
    """Parse a right-hand side like ``"age + C(edu) + scale(income)"`` safely.

    Only plain column names and the whitelisted transforms ``C()`` (categorical: numeric codes
    or text, the first sorted level as reference unless ``C(temp, ref="warm")`` names one),
    ``scale()`` and ``center()`` are accepted, and only for ``known`` columns: nothing is
    ever evaluated, so a config cannot run code.
    """
    terms = []
    for raw in _split_terms(formula_rhs):
        m = _TERM.match(raw)
        if not m or (m["ref"] is not None and m["fn"] != "C"):
            raise ValueError(f"term {raw!r} is not allowed: use a column name, C(col), "
                             f"C(col, ref=\"level\"), scale(col) or center(col)")
        col = m["arg"] or m["name"]
        if col not in known:
            raise ValueError(f"term {raw!r} refers to unknown column {col!r}")
        kind = {"C": "categorical", "scale": "standardize", "center": "center"}.get(m["fn"],
                                                                                   "numeric")
        ref = m["ref"].strip("\"'") if m["ref"] is not None else None
        terms.append(Covariate(col, kind, reference=ref))
    return tuple(terms)


def _split_terms(rhs: str) -> list[str]:
    """Split on ``+`` outside parentheses and quotes (a reference level may hold ``+``);
    an empty part is kept, so that ``x + + y`` is refused by name."""
    return split_outside(rhs, "+")


def prior_grid(section: dict | None, *, source: str = "config") -> dict[str, dict]:
    """The named prior settings of a ``[sensitivity]`` config section (or the default grid).

    Each ``[sensitivity.<name>]`` table holds prior overrides (keys of DEFAULT_PRIORS); values
    are checked here so that a typo fails before any fitting, naming the table and key.
    """
    if not section:
        return {k: dict(v) for k, v in DEFAULT_PRIOR_GRID.items()}
    grid = {"default": {}}
    for name, values in section.items():
        where = f"{source}: [sensitivity.{name}]"
        if not isinstance(values, dict):
            raise ValueError(f"{where} must be a table of prior values, got {values!r}")
        if not _NAME.match(name):
            raise ValueError(f"{where}: the name must be letters, digits and _")
        check_priors(values, owner=where)
        grid[name] = dict(values)
    return grid


def specs_from_config(cfg, *, columns: set[str]) -> dict[str, ModelSpec]:
    """Model specs for the ``[[outcomes]]`` of a :class:`data.config.StudyConfig`.

    One spec per declared outcome, its terms parsed by the whitelist in :func:`parse_terms`
    against the data's ``columns``, or its ``formula`` by
    :func:`models.formula.parse_formula` (the same spec as the split keys that say the
    same). (A config without outcomes fits the housing study's suite,
    :func:`data.suite.default_specs`; see :mod:`data.study`.)
    """
    if not cfg.outcomes:
        raise ValueError(f"{cfg.source}: declares no [[outcomes]]")
    specs = {}
    for oc in cfg.outcomes:
        if "formula" in oc:
            oc = oc | _formula_keys(oc, columns=columns)
            terms = oc.pop("_terms")
        else:
            terms = parse_terms(oc["terms"], known=columns) if oc.get("terms") else ()
        levels = tuple(oc["levels"])
        missing = [c for c in (oc["response"], *levels) if c not in columns]
        if missing:
            raise ValueError(f"outcome {oc['name']!r}: column(s) {missing} not in the data")
        focal = oc.get("focal")
        slopes = oc.get("slopes", {})
        if not isinstance(slopes, dict):
            raise ValueError(f"outcome {oc['name']!r}: slopes must be a table "
                             f"{{ level = [\"term\", ...] }}, got {slopes!r}")
        params = oc.get("parametrisation", {})
        if not isinstance(params, dict):
            raise ValueError(f"outcome {oc['name']!r}: parametrisation must be a table "
                             f"{{ level = \"centered\" }}, got {params!r}")
        trials = oc.get("trials")
        if trials is not None and trials not in columns:
            raise ValueError(f"outcome {oc['name']!r}: trials column {trials!r} not in the data")
        specs[oc["name"]] = ModelSpec(
            trials=trials, nested=bool(oc.get("nested", True)),
            slopes=tuple(f"{t}|{lv}" for lv, ts in slopes.items()
                         for t in ([ts] if isinstance(ts, str) else ts)),
            parametrisation=tuple(f"{lv}={how}" for lv, how in params.items()),
            id_column=oc.get("id"),
            items=tuple(oc.get("items", ())), reversed_items=tuple(oc.get("reversed_items", ())),
            name=oc["name"], outcome=oc["name"], response=oc["response"], family=oc["family"],
            terms=terms, levels=levels, focal=focal,
            reference=str(oc["reference"]) if focal and "reference" in oc else None,
            variant=oc.get("variant", cfg.variant) if focal else "none",
            subset=oc.get("subset"), categories=tuple(oc.get("categories", ())),
            priors=dict(cfg.priors) | dict(oc.get("priors", {})),
        )
        if focal and specs[oc["name"]].reference is None:
            raise ValueError(f"outcome {oc['name']!r}: focal level {focal!r} needs a "
                             f"'reference' level")
    return specs


def _formula_keys(oc: dict, *, columns: set[str]) -> dict:
    """The split keys an outcome's ``formula`` stands for (``_terms``: its covariates)."""
    from models.formula import parse_formula

    parts = parse_formula(oc["formula"], focal=oc.get("focal"))
    missing = [c for c in parts.columns if c not in columns]
    if missing:
        raise ValueError(f"outcome {oc['name']!r}: formula {oc['formula']!r}: column(s) "
                         f"{missing} not in the data")
    slopes: dict[str, list[str]] = {}
    for entry in parts.slopes:
        term, _, level = entry.partition("|")
        slopes.setdefault(level, []).append(term)
    out = {"response": parts.response, "levels": list(parts.levels), "nested": parts.nested,
           "slopes": slopes, "_terms": parts.terms}
    return out | ({"trials": parts.trials} if parts.trials else {})


def comparison_variants(spec: ModelSpec, *, terms: tuple[str, ...] = (),
                        columns: set[str] | None = None,
                        focal_predictors: tuple[str, ...] = ()) -> dict[str, ModelSpec]:
    """Variants of one outcome's model for LOO comparison (same rows, same response).

    Hierarchical, fixed and no focal effect; without the lowest grouping level (when there
    are two or more); the relaxed variant whose lowest level's SD differs by focal level
    (where one random level is nested directly in the focal one); category-specific focal
    effects for a cumulative outcome; the focal level's describing columns
    (``focal_predictors``, e.g. clustered) plus residual focal effects; for graded items
    the other loading structure (free loadings per item beside equal ones, or equal beside
    free); and, when the study
    names group-level ``terms`` worth
    testing (``Study.compare_terms``), without them if the model has them, else with those of
    them present in the data's ``columns``.
    """
    base = spec.with_(variant="hierarchical")
    out = {
        f"{spec.name}[hierarchical]": base,
        f"{spec.name}[fixed]": spec.with_(variant="fixed"),
        f"{spec.name}[no {spec.focal}]": spec.with_(variant="none"),
    }
    if len(spec.levels) > 1:
        out[f"{spec.name}[no {spec.levels[0]} level]"] = base.with_(levels=spec.levels[1:])
    try:  # a relaxed variant: the lowest level's SD by focal level (brms gr(by=))
        out[f"{spec.name}[{spec.levels[0]} SD by {spec.focal}]"] = base.with_(sd_by_focal=True)
    except ValueError:  # no single random level nested directly in the focal one
        pass
    if spec.family == "cumulative":  # relaxed: category-specific focal effects (brms cs())
        out[f"{spec.name}[{spec.focal} by category]"] = base.with_(focal_by_category=True)
        out[f"{spec.name}[probit link]"] = base.with_(family="cumulative_probit")
    free = getattr(spec.family_impl, "free_loadings", None)
    if spec.items and free is not None:  # graded items: the other loading structure
        out[f"{spec.name}[{'equal' if free else 'free'} loadings]"] = base.with_(
            family="graded_equal" if free else "graded")
    grouping = [c for c in focal_predictors if columns is None or c in columns]
    if spec.focal and grouping:  # focal effects = group-level predictors + residual
        out[f"{spec.name}[{' + '.join(grouping)} + residual {spec.focal}]"] = base.with_(
            terms=spec.terms + tuple(Covariate(c, "binary") for c in grouping))
    have = tuple(t for t in spec.terms if t.name in terms)
    addable = [t for t in terms if columns is None or t in columns]
    shown = [t.replace("_", " ") for t in terms]
    if have:
        out[f"{spec.name}[without {'/'.join(shown)}]"] = base.with_(
            terms=tuple(t for t in spec.terms if t not in have))
    elif addable:
        out[f"{spec.name}[with {' + '.join(t.replace('_', ' ') for t in addable)}]"] = \
            base.with_(terms=spec.terms + tuple(Covariate(t, "binary") for t in addable))
    return {k: v.with_(name=k.replace("[", "__").replace("]", "").replace(" ", "_")
                       .replace("/", "_").replace("+", "and")) for k, v in out.items()}
