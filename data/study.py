"""A study's knowledge and wording, in one place the generic engine reads from.

The engine (specs, design, build, inference, diagnostics, report skeleton) knows nothing
of any particular study. What it needs to speak about one -- the title and question, what
a row and each grouping level are called, display names of the focal levels, groups of
focal levels whose average is a contrast of interest, extra terms worth comparing, which
model suites exist -- comes from a :class:`Study`. The housing study's is :data:`HOUSING`
(built from the codebook); a config with its own ``[[outcomes]]`` gets a generic one,
worded by its optional ``[study]`` section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from data import codebook as cb
from data.config import STUDY_KEYS, StudyConfig
from data.suite import two_part_specs
from models.causal import CausalGraph

__all__ = ["HOUSING", "Study", "study_for"]


@dataclass(frozen=True)
class Study:
    """Wording and domain knowledge of one study.

    Attributes
    ----------
    title
        The report's title (the research question).
    design
        One sentence on the data's structure and what the effects are controlled for.
    unit, units
        What one analysed row is (``tenant``/``tenants``, ``pupil``/``pupils``).
    level_names
        Display names of grouping columns (``complex_id`` -> ``complex``).
    label_names
        Display names of focal-level labels (``GG`` -> ``GG ground-level dwellings``).
    pooled
        Named sets of focal labels whose average each other label is also contrasted with
        (``non-clustered`` = GG, LZ, HZ).
    complement
        What the focal labels in no pooled set are called together (``clustered``); the
        report groups and colours the levels by these sets.
    compare_terms
        Group-level terms whose inclusion the ``compare`` command tests (added when a
        model lacks them, removed when it has them); empty: no such variant.
    focal_predictors
        Columns constant within each focal level that describe it (``clustered``): the
        ``compare`` command's relaxed variant ``[<col> + residual <focal>]`` adds them as
        terms, so the focal effects shrink towards their groups' means instead of the
        grand mean (Gelman & Hill's group-level predictors).
    has_findings
        Whether the study has published conclusions to check (``findings.csv``).
    has_overview
        Whether the report shows the study's data overview (units and groups per focal
        level, marginals beside published figures).
    suites
        Named spec builders ``(config, columns) -> {name: ModelSpec}``; ``default`` always.
    size_column, size_unit
        A column of the lowest grouping level giving its size (``units``: dwellings per
        complex); pooled groups are then also averaged weighted by it (``dwelling-weighted``),
        beside equal weights and weights by analysed rows (``tenant-weighted``).
    causal_graph
        The causal roles of the study's variables (:class:`models.causal.CausalGraph`):
        what each effect may be called (``total``, ``controlled``, ``conditional``);
        a config declares roles in ``[study] roles = {x = "confounder", ...}``.
    two_parts
        ``specs -> {name: TwoPart}``: the joint models of two-part outcomes among a suite's
        specs, whose *total* effects the run reports beside the parts' conditional ones
        (:mod:`models.joint`); ``None``: the study has none.
    """

    title: str
    design: str
    unit: str = "row"
    units: str = "rows"
    level_names: Mapping[str, str] = field(default_factory=dict)
    label_names: Mapping[str, str] = field(default_factory=dict)
    pooled: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    complement: str = "other levels"
    compare_terms: tuple[str, ...] = ()
    focal_predictors: tuple[str, ...] = ()
    has_findings: bool = False
    has_overview: bool = False
    suites: Mapping[str, Callable] = field(default_factory=dict)
    size_column: str | None = None
    size_unit: str = "size"
    two_parts: Callable | None = None
    causal_graph: CausalGraph | None = None

    def level_name(self, level: str) -> str:
        """Display name of a grouping column (the column itself when none is declared)."""
        return self.level_names.get(level, level)

    def label_name(self, label: str) -> str:
        """Display name of a focal label (the label itself when none is declared)."""
        return self.label_names.get(label, label)

    def suite(self, kind: str, cfg: StudyConfig, *, columns: set[str]) -> dict:
        """The specs of the named suite; a ``ValueError`` names the suites this study has."""
        if kind not in self.suites:
            raise ValueError(f"the {kind!r} models belong to the housing study; this study "
                             f"({cfg.source}) has: {sorted(self.suites)}")
        return self.suites[kind](cfg, columns)


def _config_suite(cfg: StudyConfig, columns: set[str]) -> dict:
    """The config's own ``[[outcomes]]``; without them the housing study's default suite."""
    from data.suite import default_specs
    from models.spec import specs_from_config

    if not cfg.outcomes:
        return {k: s.with_(priors=cfg.priors)
                for k, s in default_specs(cfg.variant, cfg.adjustment).items()}
    return specs_from_config(cfg, columns=columns)


def _housing_suite(kind: str) -> Callable:
    def build(cfg: StudyConfig, columns: set[str]) -> dict:
        from data.suite import benefit_specs, feature_specs

        # concepts need the form effects as variance: always the hierarchical variant
        made = feature_specs(features=cfg.features) if kind == "features" else \
            benefit_specs(cfg.variant)
        return {k.removesuffix(f"_{kind}"): s.with_(priors=cfg.priors) for k, s in made.items()}
    return build


HOUSING = Study(
    title="Does where senior tenants live change how they live together?",
    design="Tenants nested in technical complexes nested in living forms; every living-form "
           "effect is controlled for the tenant covariates.",
    unit="tenant", units="tenants",
    level_names=MappingProxyType({"complex_id": "complex", "living_form": "living form"}),
    label_names=MappingProxyType({f.code: f"{f.code} {f.en}" for f in cb.FORMS}),
    pooled=MappingProxyType({"non-clustered": tuple(f.code for f in cb.FORMS
                                                    if not f.clustered)}),
    complement="clustered",
    compare_terms=("rural", "small_community"),
    focal_predictors=("clustered",),
    has_findings=True,
    has_overview=True,
    suites=MappingProxyType({"default": _config_suite, "features": _housing_suite("features"),
                             "benefit": _housing_suite("benefit")}),
    size_column="units", size_unit="dwelling",
    two_parts=two_part_specs,
    causal_graph=cb.CAUSAL_GRAPH,
)

_WORDING = STUDY_KEYS  # the [study] keys and their types (data.config checks the names)


def study_for(cfg: StudyConfig) -> Study:
    """The housing study for its own suite; a generic study for a config's outcomes.

    A config that declares ``[[outcomes]]`` is another study: it is worded by its
    ``[study]`` section (keys as :class:`Study`'s attributes), else generically.
    """
    if not cfg.outcomes:
        return HOUSING
    where = f"{cfg.source}: [study]"
    values = {}
    for key, value in cfg.study.items():
        if key not in _WORDING:
            raise ValueError(f"{where}: unknown key {key!r}; known: {sorted(_WORDING)}")
        if not isinstance(value, _WORDING[key]):
            raise ValueError(f"{where}: {key!r} must be a {_WORDING[key].__name__}, got "
                             f"{value!r}")
        values[key] = value
    pooled = {k: tuple(str(x) for x in v) for k, v in values.pop("pooled", {}).items()}
    roles = values.pop("roles", {})
    try:
        focal = next((o.get("focal") for o in cfg.outcomes if o.get("focal")), None)
        graph = CausalGraph(exposure=focal or "focal level", nodes=()).with_roles(
            {str(k): v if isinstance(v, str) else tuple(v) for k, v in roles.items()})
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: roles: {err}") from None
    return Study(
        title=values.pop("title", f"Multilevel models of {cfg.source}"),
        design=values.pop("design", "Rows nested in the grouping levels of each model; every "
                                    "focal-level effect is controlled for the model's terms."),
        pooled=MappingProxyType(pooled),
        compare_terms=tuple(values.pop("compare_terms", ())),
        focal_predictors=tuple(values.pop("focal_predictors", ())),
        suites=MappingProxyType({"default": _config_suite}),
        causal_graph=graph,
        **values,
    )
