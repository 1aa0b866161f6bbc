"""The study's codebook as code: the single source of truth for variables, forms and outcomes.

Everything else (loader, validation, simulator, model specs, reports) reads from here.
Values marked ``ASSUMPTION`` are not published in the report (summarised in English, with
every published figure, in ``docs/STUDY.md``) and were chosen by us as plausible; they are
listed in :data:`ASSUMPTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from models.causal import (
    CONFOUNDER,
    FORM_FEATURE,
    GATE,
    MEDIATOR,
    SET_ROLES,
    TWO_SIDED,
    CausalGraph,
    Node,
)
from models.terms import Covariate, covariate_matrix

__all__ = [
    "ASSUMPTIONS",
    "COMPLEX_COLUMNS",
    "ADJUSTMENT_SETS",
    "CAUSAL_GRAPH",
    "COMPLEX_CONFOUNDERS",
    "COVARIATES",
    "COVARIATE_ROLES",
    "FEATURE_ROLES",
    "FEATURE_SETS",
    "DERIVED",
    "FORMS",
    "FEATURES",
    "FORM_CODES",
    "OUTCOMES",
    "REFERENCE_FORM",
    "TENANT_COLUMNS",
    "VARIABLES",
    "Covariate",
    "Derived",
    "LivingForm",
    "Outcome",
    "Variable",
    "derive",
    "variable",
    "add_outcome_columns",
    "covariate_matrix",
]


# --------------------------------------------------------------------------------------
# Living forms
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LivingForm:
    """One of the report's seven living forms (woonvormen).

    ``typical`` holds the typical building features of a complex of this form: for 0/1
    features the probability that a complex has it, for ``floors``/``units`` the median and
    the log-scale spread, for ``vitality`` the probabilities of levels 1-3, and ``rural`` the
    share of complexes with fewer than 1000 addresses per km². The qualitative pattern is
    the report's (STUDY.md, "Living forms"); the numbers are ASSUMPTIONS.
    """

    code: str
    nl: str
    en: str
    clustered: bool
    description: str
    typical: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


def _typ(**kw) -> MappingProxyType:
    return MappingProxyType(kw)


FORMS: tuple[LivingForm, ...] = (
    LivingForm(
        "GG", "Grondgebonden woningen", "ground-level dwellings", False,
        "terraced houses, bungalows; questions asked about neighbours in the street",
        _typ(floors=(1, 0.3), units=(30, 0.5), meeting_room=0.0, kitchen_dining=0.0,
             care_facilities=0.02, involvement_activities=0.05, involvement_spaces=0.05,
             vitality=(0.25, 0.50, 0.25), rural=0.60, share=0.10),
    ),
    LivingForm(
        "LZ", "Laagbouw zonder ontmoetingsruimte", "low-rise, no meeting room", False,
        "at most 4 floors, no meeting room, kitchen or dining room",
        _typ(floors=(3, 0.25), units=(24, 0.5), meeting_room=0.0, kitchen_dining=0.0,
             care_facilities=0.03, involvement_activities=0.05, involvement_spaces=0.05,
             vitality=(0.30, 0.50, 0.20), rural=0.40, share=0.17),
    ),
    LivingForm(
        "HZ", "Hoogbouw zonder ontmoetingsruimte", "high-rise, no meeting room", False,
        "at least 5 floors, no meeting room; more often in (very) urban areas",
        _typ(floors=(7, 0.3), units=(60, 0.5), meeting_room=0.0, kitchen_dining=0.0,
             care_facilities=0.05, involvement_activities=0.05, involvement_spaces=0.05,
             vitality=(0.35, 0.50, 0.15), rural=0.10, share=0.18),
    ),
    LivingForm(
        "RO", "Ruimte voor ondersteuning", "space for support", True,
        "meeting room, often kitchen/dining, often very large, care facilities in the "
        "building, frail residents; community organised for rather than by residents",
        _typ(floors=(5, 0.45), units=(110, 0.5), meeting_room=1.0, kitchen_dining=0.7,
             care_facilities=0.85, involvement_activities=0.20, involvement_spaces=0.10,
             vitality=(0.55, 0.35, 0.10), rural=0.25, share=0.15),
    ),
    LivingForm(
        "RR", "Ruimte voor recreatie", "space for recreation", True,
        "mostly low-rise with meeting room, sometimes kitchen/dining; residents involved "
        "in activities, much less in managing shared spaces",
        _typ(floors=(3, 0.3), units=(40, 0.5), meeting_room=1.0, kitchen_dining=0.35,
             care_facilities=0.10, involvement_activities=0.85, involvement_spaces=0.20,
             vitality=(0.20, 0.50, 0.30), rural=0.55, share=0.15),
    ),
    LivingForm(
        "RG", "Ruimte voor gelaagde gemeenschapsvorming", "space for layered community building",
        True,
        "high-rise with meeting room, often large; residents involved in activities and "
        "somewhat less in shared spaces; more often urban",
        _typ(floors=(8, 0.3), units=(80, 0.5), meeting_room=1.0, kitchen_dining=0.40,
             care_facilities=0.15, involvement_activities=0.85, involvement_spaces=0.55,
             vitality=(0.20, 0.50, 0.30), rural=0.10, share=0.12),
    ),
    LivingForm(
        "RB", "Ruimte voor betrokkenheid", "space for engagement", True,
        "low-rise with meeting room and often shared kitchen/dining; vital resident group "
        "involved in activities and shared spaces",
        _typ(floors=(2, 0.3), units=(30, 0.5), meeting_room=1.0, kitchen_dining=0.70,
             care_facilities=0.05, involvement_activities=0.95, involvement_spaces=0.90,
             vitality=(0.05, 0.35, 0.60), rural=0.40, share=0.13),
    ),
)
FORM_CODES: tuple[str, ...] = tuple(f.code for f in FORMS)
REFERENCE_FORM = "HZ"
FORM_BY_CODE = MappingProxyType({f.code: f for f in FORMS})


# --------------------------------------------------------------------------------------
# Variables of the canonical interchange format
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variable:
    """A column of the canonical ``complexes`` or ``tenants`` table.

    ``kind`` is one of ``id``, ``category`` (string codes), ``binary``, ``ordinal``,
    ``count``, ``continuous``. ``values`` lists the allowed codes (ordinal/binary/category),
    ``bounds`` the closed range for count/continuous. ``outcome`` names the outcome the
    column belongs to; ``required`` columns must be present in every data set.
    """

    name: str
    table: str
    kind: str
    en: str
    nl: str
    values: tuple = ()
    labels_en: tuple[str, ...] = ()
    labels_nl: tuple[str, ...] = ()
    bounds: tuple[float | None, float | None] = (None, None)
    outcome: str | None = None
    required: bool = False

    def labels(self) -> dict:
        """Map code -> English label (empty when the variable has no value labels)."""
        return dict(zip(self.values, self.labels_en, strict=False))


NOJA = ("no", "yes")
NEEJA = ("nee", "ja")
_SUPPORT_EN = ("no!", "no", "more or less", "yes", "yes!")
_SUPPORT_NL = ("nee!", "nee", "min of meer", "ja", "ja!")
_LIKERT_EN = ("strongly disagree", "disagree", "neutral", "agree", "strongly agree")
_LIKERT_NL = ("helemaal oneens", "oneens", "neutraal", "eens", "helemaal eens")
_HELP_EN = ("less than monthly", "monthly, not weekly", "at least weekly")
_HELP_NL = ("minder dan maandelijks", "maandelijks, niet wekelijks", "minstens wekelijks")


def _bin(name, table, en, nl, **kw) -> Variable:
    return Variable(name, table, "binary", en, nl, (0, 1), NOJA, NEEJA, **kw)


_COHESION_ITEMS = (
    ("people interact pleasantly in this building",
     "de mensen gaan in dit gebouw op een prettige manier met elkaar om"),
    ("cosy building where people feel part of a group",
     "ik woon in een gezellig gebouw waar mensen zich onderdeel van een groep voelen"),
    ("people hardly know each other here (negatively worded)",
     "de mensen kennen elkaar in dit gebouw nauwelijks"),
    ("satisfied with the composition of the resident group",
     "ik ben tevreden met de samenstelling van de bewonersgroep in dit gebouw"),
    ("feel at home with the people in this building",
     "ik voel me thuis bij de mensen die in dit gebouw wonen"),
)
_SUPPORT_ITEMS = (
    ("enough people to fall back on", "genoeg mensen waarop ik kan terugvallen"),
    ("enough people to trust completely", "veel mensen die ik volledig kan vertrouwen"),
    ("enough people to feel strongly connected with",
     "voldoende mensen met wie ik me sterk verbonden voel"),
)

VARIABLES: tuple[Variable, ...] = (
    # complexes
    Variable("complex_id", "complexes", "id", "technical complex id", "technisch complex",
             required=True),
    Variable("living_form", "complexes", "category", "living form", "woonvorm", FORM_CODES,
             tuple(f.en for f in FORMS), tuple(f.nl for f in FORMS), required=True),
    Variable("floors", "complexes", "count", "number of floors", "aantal bouwlagen",
             bounds=(1, 60)),
    Variable("units", "complexes", "count", "number of dwelling units", "aantal woningen",
             bounds=(1, 2000)),
    _bin("meeting_room", "complexes", "meeting room in own building",
         "ontmoetingsruimte in eigen gebouw"),
    _bin("kitchen_dining", "complexes", "kitchen and/or dining room", "keuken en/of eetzaal"),
    _bin("care_facilities", "complexes", "care/welfare facilities in building",
         "zorg-/welzijnsvoorzieningen in gebouw"),
    _bin("involvement_activities", "complexes", "resident involvement in activities",
         "bewonersbetrokkenheid bij activiteiten"),
    _bin("involvement_spaces", "complexes", "resident involvement in shared spaces",
         "bewonersbetrokkenheid bij gedeelde ruimten"),
    Variable("vitality", "complexes", "ordinal", "vitality of resident group",
             "vitaliteit bewonersgroep", (1, 2, 3), ("low", "mixed", "high"),
             ("laag", "gemengd", "hoog")),
    Variable("address_density", "complexes", "continuous", "addresses per km²",
             "omgevingsadressendichtheid", bounds=(0, None)),
    # tenants: ids and covariates
    Variable("tenant_id", "tenants", "id", "respondent id", "respondent", required=True),
    Variable("complex_id", "tenants", "id", "technical complex id", "technisch complex",
             required=True),
    _bin("female", "tenants", "female", "vrouw"),
    Variable("age_group", "tenants", "ordinal", "age group", "leeftijdsgroep", (1, 2, 3, 4),
             ("55-64", "65-74", "75-84", "85+"), ("55-64", "65-74", "75-84", "85+")),
    Variable("education", "tenants", "ordinal", "education", "opleidingsniveau", (1, 2, 3),
             ("lower", "middle", "higher"), ("laag", "middelbaar", "hoog (hbo/wo)")),
    _bin("personal_care", "tenants", "receives personal care at least weekly",
         "ontvangt wekelijks persoonlijke verzorging"),
    _bin("activity_limitation", "tenants", "health limits activities",
         "beperkt in activiteiten door gezondheid"),
    _bin("lives_alone", "tenants", "single-person household", "alleenstaand"),
    _bin("little_outside_contact", "tenants", "little contact outside the residential setting",
         "weinig contact buiten de woonomgeving"),
    _bin("financial_vulnerability", "tenants", "difficulty making ends meet",
         "moeite met rondkomen"),
    Variable("extraversion", "tenants", "count", "extraversion (extravert answers of 13)",
             "extraversie", bounds=(0, 13)),
    _bin("social_motive", "tenants", "chose the home for social reasons",
         "sociaal verhuismotief"),
    Variable("residence_duration", "tenants", "ordinal", "residence duration", "woonduur",
             (1, 2, 3), ("< 1 year", "2-7 years", "> 7 years"),
             ("< 1 jaar", "2-7 jaar", "> 7 jaar")),
    _bin("shared_norms", "tenants", "same norms and values as neighbours",
         "zelfde normen en waarden als medebewoners"),
    # outcomes
    Variable("contact", "tenants", "ordinal", "contact with fellow residents",
             "contact met medebewoners", (1, 2, 3), ("little/never", "regular", "(almost) daily"),
             ("weinig/nooit", "regelmatig", "(bijna) dagelijks"), outcome="contact"),
    _bin("friendly_contact", "tenants", "contact (also) friendly",
         "(ook) vriendschappelijk contact", outcome="friendly_contact"),
    Variable("activity_participation", "tenants", "ordinal",
             "participation in organised activities",
             "deelname aan georganiseerde activiteiten", (0, 1, 2, 3),
             ("none organised", "rarely/never", "monthly", "weekly"),
             ("niets georganiseerd", "zelden/nooit", "maandelijks", "wekelijks"),
             outcome="activity_participation"),
    _bin("organised_together", "tenants", "organised something with residents (6 months)",
         "samen iets georganiseerd", outcome="organised_together"),
    _bin("maintained_together", "tenants", "worked on shared spaces with residents (6 months)",
         "samen gedeelde ruimten onderhouden", outcome="maintained_together"),
    _bin("gossip", "tenants", "feels gossiped about", "voelt zich geroddeld over",
         outcome="gossip"),
    *(Variable(f"cohesion_{i}", "tenants", "ordinal", en, nl, (1, 2, 3, 4, 5), _LIKERT_EN,
               _LIKERT_NL, outcome="cohesion")
      for i, (en, nl) in enumerate(_COHESION_ITEMS, start=1)),
    *(Variable(f"support_{i}", "tenants", "ordinal", en, nl, (1, 2, 3, 4, 5), _SUPPORT_EN,
               _SUPPORT_NL, outcome="lonely")
      for i, (en, nl) in enumerate(_SUPPORT_ITEMS, start=1)),
    Variable("help_received", "tenants", "ordinal", "help received from fellow residents",
             "ontvangen burenhulp", (1, 2, 3), _HELP_EN, _HELP_NL, outcome="help_received"),
    Variable("help_given", "tenants", "ordinal", "help given to fellow residents",
             "verleende burenhulp", (1, 2, 3), _HELP_EN, _HELP_NL, outcome="help_given"),
)
_VAR_INDEX = {(v.table, v.name): v for v in VARIABLES}
COMPLEX_COLUMNS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.table == "complexes")
TENANT_COLUMNS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.table == "tenants")


def variable(name: str, table: str = "tenants") -> Variable:
    """Look up a codebook variable by table and name."""
    return _VAR_INDEX[(table, name)]


# --------------------------------------------------------------------------------------
# Tenant covariates as model terms (models.terms.Covariate)
# --------------------------------------------------------------------------------------
COVARIATES: tuple[Covariate, ...] = (
    Covariate("female", "binary"),
    Covariate("age_group", "categorical", (1, 2, 3, 4)),
    Covariate("education", "categorical", (1, 2, 3)),
    Covariate("personal_care", "binary"),
    Covariate("activity_limitation", "binary"),
    Covariate("lives_alone", "binary"),
    Covariate("little_outside_contact", "binary"),
    Covariate("financial_vulnerability", "binary"),
    Covariate("extraversion", "scaled", center=6.5, scale=3.0),
    Covariate("social_motive", "binary"),
    Covariate("residence_duration", "categorical", (1, 2, 3)),
    Covariate("shared_norms", "binary"),
)

# The causal graph of the study (models.causal): every covariate's role with respect to
# the living form, and why. Holding a covariate fixed while the form is swapped gives the
# effect *controlled* for it; that is the total effect of the form only when the covariate
# is a pre-residence characteristic (a confounder), not when the form may have changed it.
# Adjustment sets are derived from these roles (ADJUSTMENT_SETS), never listed by hand.
_TENANT_ROLES: dict[str, tuple[str, str]] = {
    "female": (CONFOUNDER, "fixed before moving in; men and women choose homes differently"),
    "age_group": (CONFOUNDER, "age decides eligibility and choice of the home, not the "
                              "reverse"),
    "education": (CONFOUNDER, "completed long before moving in"),
    "activity_limitation": (CONFOUNDER, "health that drives selection into forms, a "
                                        "confounder"),
    "lives_alone": (CONFOUNDER, "household composition, mostly given at moving in"),
    "financial_vulnerability": (CONFOUNDER, "income and assets precede the tenancy"),
    "extraversion": (CONFOUNDER, "a personality trait, stable in adults"),
    "social_motive": (TWO_SIDED, "a motive held before the move drives self-selection into "
                                 "clustered forms, but it is reported after choosing the "
                                 "home and may be coloured by it"),
    "personal_care": (TWO_SIDED, "a care need before the move drives selection into forms "
                                 "with care (RO), but RO provides care on site, so receiving "
                                 "it weekly is partly the form's doing"),
    "residence_duration": (TWO_SIDED, "long-stayers differ before the form acts, but how long "
                                      "one has lived there depends on when the complex "
                                      "opened and whether one stays"),
    "little_outside_contact": (MEDIATOR, "a form with neighbours nearby can replace or "
                                         "create outside contact"),
    "shared_norms": (MEDIATOR, "'same norms as my neighbours' is partly the community the "
                               "form creates"),
}
_COMPLEX_ROLES: dict[str, tuple[str, str]] = {
    "rural": (CONFOUNDER, "the location precedes who moves in and differs sharply by form "
                          "(GG, RR rural; HZ, RG urban); village life has denser ties"),
    "small_community": (FORM_FEATURE, "a complex's size is part of the housing concept a "
                                      "form stands for; held fixed only in the report's model"),
    "log_units": (FORM_FEATURE, "a complex's size is part of the housing concept"),
    "high_rise": (FORM_FEATURE, "floors define the forms (LZ low-rise, HZ high-rise): "
                                "no overlap to adjust for"),
    "contact_daily": (GATE, "daily contact is the gate category of friendly contact"),
}
CAUSAL_GRAPH = CausalGraph(
    exposure="living_form",
    nodes=tuple(Node(n, r, why) for n, (r, why) in _TENANT_ROLES.items())
    + tuple(Node(n, r, why, level="group") for n, (r, why) in _COMPLEX_ROLES.items()),
    outcomes=("contact", "friendly_contact", "activity_participation", "organised_together",
              "maintained_together", "gossip", "cohesion", "lonely", "help_received",
              "help_given"),
    edges=(("education", "shared_norms", "the report: higher education lowers cohesion "
                                         "through norms"),
           ("extraversion", "social_motive", "the outgoing choose a home for its company")),
)
# kept for readers of the roles by covariate: name -> (role, reason)
COVARIATE_ROLES: dict[str, tuple[str, str]] = dict(_TENANT_ROLES)
# complex-level confounders: in every model of every adjustment set (where the data have them)
COMPLEX_CONFOUNDERS: tuple[str, ...] = tuple(
    n for n, (r, _) in _COMPLEX_ROLES.items() if r == CONFOUNDER)
# Named adjustment sets, from the graph (models.causal.SET_ROLES): "study" reproduces the
# report's analysis (every covariate: an effect *controlled* for possible mediators);
# "pre_residence" the confounders only (the total effect if the two-sided covariates are
# consequences of the form and nothing unmeasured confounds); "pre_residence_wide" the
# confounders and the two-sided covariates (total if those are confounders).
ADJUSTMENT_SETS: dict[str, tuple[str, ...]] = {
    name: CAUSAL_GRAPH.adjustment_set(name, [c.name for c in COVARIATES]
                                      + list(COMPLEX_CONFOUNDERS))
    for name in SET_ROLES
}


# Building features that explain complex-level effects in the "features" model variant
# (the report's conceptual model: spatial, organisational and social drivers). log_units is
# centred at log(40) units; vitality is categorical with "low" as reference.
FEATURES: tuple[Covariate, ...] = (
    Covariate("high_rise", "binary"),
    Covariate("log_units", "scaled", center=float(np.log(40.0)), scale=1.0),
    Covariate("meeting_room", "binary"),
    Covariate("kitchen_dining", "binary"),
    Covariate("care_facilities", "binary"),
    Covariate("involvement_activities", "binary"),
    Covariate("involvement_spaces", "binary"),
    Covariate("vitality", "categorical", (1, 2, 3)),
    Covariate("rural", "binary"),
)

# What each building feature is: a *design* lever a housing association chooses when it
# builds or converts (the default concept inputs), or a consultant's *rating of the
# community* living there -- an outcome of the form as much as a cause, not something a
# new concept can be given (used only with ``--features all``, the report's own model).
DESIGN = "design"
COMMUNITY = "community_rating"
FEATURE_ROLES: dict[str, tuple[str, str]] = {
    "high_rise": (DESIGN, "number of floors, chosen in the design"),
    "log_units": (DESIGN, "size of the complex, chosen in the design"),
    "meeting_room": (DESIGN, "a shared room is built or not"),
    "kitchen_dining": (DESIGN, "a shared kitchen/dining room is built or not"),
    "care_facilities": (DESIGN, "a care point on site is planned or not"),
    "rural": (DESIGN, "the location is chosen (address density < 1000)"),
    "involvement_activities": (COMMUNITY, "residents organising activities is what a "
                                          "community does, rated afterwards"),
    "involvement_spaces": (COMMUNITY, "residents running the shared spaces is what a "
                                      "community does, rated afterwards"),
    "vitality": (COMMUNITY, "a consultant's rating of how vital the resident group is: "
                            "partly the contact and cohesion being explained"),
}
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "design": tuple(f.name for f in FEATURES if FEATURE_ROLES[f.name][0] == DESIGN),
    "all": tuple(f.name for f in FEATURES),
}

# --------------------------------------------------------------------------------------
# Derived variables
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Derived:
    """A variable computed from canonical columns; ``rule`` says how, in words."""

    name: str
    table: str
    sources: tuple[str, ...]
    rule: str


DERIVED: tuple[Derived, ...] = (
    Derived("cohesion", "tenants", tuple(f"cohesion_{i}" for i in range(1, 6)),
            "mean of the five cohesion items after reversing item 3 (6 - x); missing if any "
            "item is missing"),
    Derived("lonely", "tenants", ("support_1", "support_2", "support_3"),
            "1 when all three support items are <= 3 ('strongly socially lonely'), else 0; "
            "missing if any item is missing"),
    Derived("rural", "complexes", ("address_density",), "1 when address_density < 1000"),
    Derived("small_community", "complexes", ("units",), "1 when units <= 25"),
    Derived("high_rise", "complexes", ("floors",), "1 when floors >= 5 (the report's "
            "low-rise <= 4 / high-rise >= 5)"),
    Derived("log_units", "complexes", ("units",), "natural log of units (scale of a complex)"),
    Derived("clustered", "complexes", ("living_form",), "1 for the clustered forms RO, RR, RG, "
            "RB (shared meeting room), 0 for GG, LZ, HZ"),
)


def derive(complexes: pd.DataFrame, tenants: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return copies of both tables with the derived variables added (inputs untouched)."""
    complexes = complexes.copy()
    tenants = tenants.copy()
    if "address_density" in complexes:
        dens = pd.to_numeric(complexes["address_density"])
        complexes["rural"] = (dens < 1000).astype("Int64").where(dens.notna())
    if "units" in complexes:
        units = pd.to_numeric(complexes["units"])
        complexes["small_community"] = (units <= 25).astype("Int64").where(units.notna())
        complexes["log_units"] = np.log(units.astype(float).where(units > 0))
    if "living_form" in complexes:
        flag = complexes["living_form"].map({f.code: int(f.clustered) for f in FORMS})
        complexes["clustered"] = flag.astype("Int64")
    if "floors" in complexes:
        floors = pd.to_numeric(complexes["floors"])
        complexes["high_rise"] = (floors >= 5).astype("Int64").where(floors.notna())
    items = [f"cohesion_{i}" for i in range(1, 6)]
    if all(c in tenants for c in items):
        block = tenants[items].astype("Float64").copy()
        block["cohesion_3"] = 6 - block["cohesion_3"]
        tenants["cohesion"] = block.mean(axis=1, skipna=False).astype(float)
    support = ["support_1", "support_2", "support_3"]
    if all(c in tenants for c in support):
        block = tenants[support].astype("Float64")
        lonely = (block <= 3).all(axis=1).astype("Int64")
        tenants["lonely"] = lonely.where(block.notna().all(axis=1))
    return complexes, tenants


# --------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """An analysable outcome: its response column, family, subset and published marginals.

    ``published`` maps a response level to the report's published share (of the analysed
    subset); ``subset`` is a pandas query selecting the rows the outcome is defined on.
    ``asked`` is the query of the rows the question is put to, where it is not put to
    everyone: elsewhere the column is missing *by design* and is never imputed
    (:mod:`data.imputation`). Activity participation is asked of all (``0``, "none
    organised", is an answer), so its subset is no design gap.
    """

    name: str
    column: str
    family: str  # "cumulative" | "bernoulli" | "gaussian"
    en: str
    levels: tuple = ()
    subset: str | None = None
    asked: str | None = None
    published: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    source_columns: tuple[str, ...] = ()


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("contact", "contact", "cumulative", "contact with fellow residents", (1, 2, 3),
            published=MappingProxyType({1: 0.14, 2: 0.38, 3: 0.48})),
    Outcome("friendly_contact", "friendly_contact", "bernoulli",
            "friendly contact (among residents with at least regular contact)", (0, 1),
            subset="contact >= 2", asked="contact >= 2",
            # 29% of those with contact: daily AND friendly; 17% of the regular group friendly
            published=MappingProxyType({"daily_and_friendly": 0.29, "friendly_if_regular": 0.17})),
    Outcome("activity_organised", "activity_organised", "bernoulli",
            "any organised activities known (activity_participation > 0)", (0, 1),
            published=MappingProxyType({0: 0.19, 1: 0.81}),
            source_columns=("activity_participation",)),
    Outcome("activity_participation", "activity_participation", "cumulative",
            "participation in organised activities (where organised)", (1, 2, 3),
            subset="activity_participation >= 1",
            published=MappingProxyType({1: 0.52 / 0.81, 2: 0.10 / 0.81, 3: 0.19 / 0.81})),
    Outcome("organised_together", "organised_together", "bernoulli",
            "organised something together", (0, 1), published=MappingProxyType({1: 0.22})),
    Outcome("maintained_together", "maintained_together", "bernoulli",
            "maintained shared spaces together", (0, 1), published=MappingProxyType({1: 0.22})),
    Outcome("gossip", "gossip", "bernoulli", "feels gossiped about", (0, 1),
            published=MappingProxyType({1: 0.13})),
    Outcome("cohesion", "cohesion", "gaussian", "perceived cohesion (mean of 5 items)",
            source_columns=tuple(f"cohesion_{i}" for i in range(1, 6))),
    Outcome("lonely", "lonely", "bernoulli", "strongly socially lonely", (0, 1),
            published=MappingProxyType({1: 0.15}),
            source_columns=("support_1", "support_2", "support_3")),
    Outcome("help_received", "help_received", "cumulative", "help received from residents",
            (1, 2, 3), published=MappingProxyType({1: 0.79, 2: 0.12, 3: 0.09})),
    Outcome("help_given", "help_given", "cumulative", "help given to residents", (1, 2, 3),
            published=MappingProxyType({1: 0.64, 2: 0.18, 3: 0.18})),
)
OUTCOME_BY_NAME = MappingProxyType({o.name: o for o in OUTCOMES})


def add_outcome_columns(tenants: pd.DataFrame) -> pd.DataFrame:
    """Add analysis recodes of canonical columns.

    ``activity_organised`` = activity_participation > 0; ``contact_daily`` = contact == 3
    (a term of the friendly-contact model: friendliness is far more common among daily
    contacts, STUDY.md).
    """
    out = tenants.copy()
    if "activity_participation" in out:
        ap = out["activity_participation"].astype("Float64")
        out["activity_organised"] = (ap > 0).astype("Int64").where(ap.notna())
    if "contact" in out:
        c = out["contact"].astype("Float64")
        out["contact_daily"] = (c == 3).astype("Int64").where(c.notna())
    return out




# --------------------------------------------------------------------------------------
# Assumptions (values the report does not publish)
# --------------------------------------------------------------------------------------
ASSUMPTIONS = MappingProxyType({
    "form_shares": "share of complexes per living form (LivingForm.typical['share'])",
    "building_features": "typical floors/units/facility probabilities per form "
                         "(LivingForm.typical)",
    "rural_share": "share of rural complexes per form (GG, RR more rural; HZ, RG more urban)",
    "group_sizes": "respondents per complex ~ 1 + NegBin, mean proportional to units^0.5",
    "covariate_distributions": "tenant covariate prevalences (data.simulate.COVARIATE_MODEL)",
    "effect_sizes": "all coefficients and living-form effects (data.simulate.TRUE_EFFECTS)",
    "complex_sd": "between-complex SD on the latent scale per outcome",
    "cohesion_items": "cohesion item thresholds (no item distribution published)",
    "independence": "complex effects independent across outcomes",
})
