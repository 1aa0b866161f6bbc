"""The housing study's model suite: which models it fits, with which terms, on what rows.

Everything here is study knowledge read by the generic engine through
:class:`models.spec.ModelSpec`: the tenant covariates of the report, the nesting tenant ->
technical complex -> living form with HZ as reference, the complex-level terms the report's
findings call for, the event a housing association reads per outcome, the building
features of the concepts variant and the moderators of "who benefits".
"""

from __future__ import annotations

from types import MappingProxyType

from data import codebook as cb
from models.causal import GATE
from models.families import get_family
from models.spec import ModelSpec
from models.terms import Covariate

__all__ = ["ADJUSTMENTS", "BENEFIT_OUTCOMES", "COMPLEX_LEVEL", "LEVELS", "MODERATORS",
           "benefit_specs", "default_specs", "feature_specs", "two_part_specs"]

LEVELS = ("complex_id", "living_form")  # tenants nested in complexes nested in forms

# outcome-specific extras by design (docs/STUDY.md): friendly contact gets contact_daily (the
# gate category it is conditional on, every set); cohesion the small-community term (a form
# feature the report held fixed: the study set only). The complex-level confounders
# (codebook.COMPLEX_CONFOUNDERS: rural) are in every set through the causal graph.
_COMPLEX_TERMS = {
    "cohesion": ("small_community",),
    "friendly_contact": ("contact_daily",),
}
# the event read on the probability scale: the top category (daily contact, weekly
# participation) except help, where "at least monthly" (category 2 of 3) is the report's
_EVENT = {"help_received": 1, "help_given": 1}


def _extras(outcome: str, adjustment: str) -> tuple[Covariate, ...]:
    """The outcome's own complex-level or gate terms that the set keeps: a gate term always
    (the conditional model is defined by it), a form feature only in the report's set."""
    keep = []
    for name in _COMPLEX_TERMS.get(outcome, ()):
        role = cb.CAUSAL_GRAPH.role(name)
        if role == GATE or adjustment == "study":
            keep.append(Covariate(name, "binary"))
    return tuple(keep)


def _base(oc: cb.Outcome, variant: str, adjustment: str = "study") -> ModelSpec:
    ordinal = get_family(oc.family).ordinal
    kept = cb.ADJUSTMENT_SETS[adjustment]
    tenant = tuple(c for c in cb.COVARIATES if c.name in kept)
    complex_level = tuple(Covariate(n, "binary") for n in cb.COMPLEX_CONFOUNDERS if n in kept)
    return ModelSpec(
        name=oc.name if adjustment == "study" else f"{oc.name}__{adjustment}",
        outcome=oc.name, response=oc.column, family=oc.family, adjustment=adjustment,
        terms=tenant + complex_level + _extras(oc.name, adjustment), levels=LEVELS,
        focal=LEVELS[-1],
        reference=cb.REFERENCE_FORM, level_order=cb.FORM_CODES, subset=oc.subset,
        variant=variant, categories=tuple(oc.levels) if ordinal else (),
        event=_EVENT.get(oc.name), id_column="tenant_id",
    )


# "both": the report's set beside the narrow pre-residence one; "bounds": all three sets, the
# two-sided covariates with and without (the headline contrasts between the bounds)
COMBINED = {"both": ("study", "pre_residence"),
            "bounds": ("study", "pre_residence_wide", "pre_residence")}
ADJUSTMENTS = (*cb.ADJUSTMENT_SETS, *COMBINED)


def default_specs(variant: str = "hierarchical",
                  adjustment: str = "study") -> dict[str, ModelSpec]:
    """The default model of every outcome in the study codebook (plus item-level cohesion).

    ``adjustment`` names the covariates (:data:`data.codebook.ADJUSTMENT_SETS`, derived from
    the causal graph :data:`data.codebook.CAUSAL_GRAPH`): ``study`` the report's twelve and
    its complex-level terms (the effect of the form *controlled* for all of them, possible
    mediators included: the report's own analysis), ``pre_residence`` the confounders only
    (names get ``__pre_residence``), ``pre_residence_wide`` the confounders and the
    two-sided covariates; ``both`` study and pre_residence side by side, ``bounds`` all
    three. Every set holds the complex-level confounders (rural).
    """
    if adjustment in COMBINED:
        out = {}
        for name in COMBINED[adjustment]:
            out |= default_specs(variant, name)
        return out
    if adjustment not in cb.ADJUSTMENT_SETS:
        raise ValueError(f"unknown adjustment set {adjustment!r}; choose one of {ADJUSTMENTS}")
    specs = {}
    for oc in cb.OUTCOMES:
        spec = _base(oc, variant, adjustment)
        specs[spec.name] = spec
    # the better cohesion model: five items, one latent cohesion per tenant (Bambi can't).
    # The sampled latent stays the default until the integrated one ("graded": loadings per
    # item; "graded_equal") is measured to pass the verdict faster (docs/benchmarks.md)
    cohesion = specs[_base(cb.OUTCOME_BY_NAME["cohesion"], variant, adjustment).name]
    name = "cohesion_items" if adjustment == "study" else f"cohesion_items__{adjustment}"
    specs[name] = cohesion.with_(
        name=name, family="graded_latent",
        items=cb.OUTCOME_BY_NAME["cohesion"].source_columns, reversed_items=("cohesion_3",),
        categories=(1, 2, 3, 4, 5))
    return specs


def two_part_specs(specs: dict[str, ModelSpec]) -> dict:
    """The joint models of the study's two-part outcomes among ``specs`` (by adjustment set).

    * friendly contact: the gate is contact (``contact >= 2``: regular or daily), the part
      friendly contact, whose ``contact_daily`` term follows from the gate (daily = 3);
      total event ``P(contact >= 2 and friendly)``;
    * activity participation: the gate is "activities organised", the part participation
      where organised; total event ``P(organised and weekly participation)``.

    Named ``<part>__total`` (``friendly_contact__pre_residence__total``); a joint model is
    made where both parts are in ``specs``.
    """
    from models.joint import TwoPart

    plans = (("contact", "friendly_contact", (2, 3), "contact >= 2", "contact_daily",
              {2: 0.0, 3: 1.0}),
             ("activity_organised", "activity_participation", (1,), "activity_organised = 1",
              None, {}))
    out = {}
    for gate, part, open_, label, mediator, values in plans:
        for spec in specs.values():
            if spec.outcome != part or spec.items or spec.variant != "hierarchical":
                continue
            twins = [s for s in specs.values() if s.outcome == gate
                     and s.adjustment == spec.adjustment and s.variant == spec.variant
                     and not s.items]
            if not twins:
                continue
            name = f"{spec.name}__total"
            out[name] = TwoPart(name, twins[0], spec, open_, label, mediator,
                                MappingProxyType(values))
    return out


# complex-level columns: in the features variant they describe the building, not the tenant
COMPLEX_LEVEL = frozenset({t.name for t in cb.FEATURES} | {"small_community", "rural"})


def feature_specs(variant: str = "hierarchical", features: str = "design") -> dict[str, ModelSpec]:
    """The "features" variant: complex-level effects explained by building features.

    Every default model (except the item-level one) gains the building features of
    :data:`data.codebook.FEATURE_SETS` ``[features]``: ``design`` (default) the levers a
    housing association chooses, ``all`` also the consultant's ratings of the community
    (resident involvement, vitality -- the report's own model; they are outcomes as much
    as causes). The living form stays as a partially pooled effect and the complex as a
    random intercept, so the variation the features do not explain stays in the
    predictions of new concepts as variance.
    """
    if features not in cb.FEATURE_SETS:
        raise ValueError(f"unknown feature set {features!r}; choose one of "
                         f"{sorted(cb.FEATURE_SETS)}")
    kept = [f for f in cb.FEATURES if f.name in cb.FEATURE_SETS[features]]
    out = {}
    for name, spec in default_specs(variant).items():
        if spec.items:
            continue
        have = {t.name for t in spec.terms}
        terms = spec.terms + tuple(f for f in kept if f.name not in have)
        out[f"{name}_features"] = spec.with_(name=f"{name}_features", terms=terms)
    return out


# who benefits: the report's nuance is that clustered forms help residents who are open to
# contact and able to take part, not the isolated
MODERATORS = ("extraversion", "social_motive", "little_outside_contact", "activity_limitation")
BENEFIT_OUTCOMES = ("contact", "help_received", "help_given")


def benefit_specs(variant: str = "hierarchical") -> dict[str, ModelSpec]:
    """Contact and help models with clustered x openness / vulnerability interactions.

    ``clustered:m`` lets the effect of each moderator ``m`` differ between clustered and
    non-clustered forms (the forms' own effects stay as they are, so the clustered main
    effect is carried by the living-form effects).
    """
    out = {}
    for name, spec in default_specs(variant).items():
        if name not in BENEFIT_OUTCOMES:
            continue
        inter = tuple(Covariate(f"clustered:{m}", "interaction", parts=("clustered", m))
                      for m in MODERATORS)
        out[f"{name}_benefit"] = spec.with_(name=f"{name}_benefit", terms=spec.terms + inter)
    return out
