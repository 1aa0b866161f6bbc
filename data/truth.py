"""The simulator's generating effects: every value here is an ASSUMPTION chosen by us.

Directions encode the report's published findings (STUDY.md, "Published findings"); the
sizes are ours. Latent-scale living-form effects are given relative to HZ (the report's
reference); ``0.0`` means "no difference" and is used where the report finds none, so that a
findings check has true nulls to be "uncertain" about. Intercepts and thresholds are *not*
set here: :mod:`data.simulate` calibrates them numerically so that the expected marginals
match the published ones.

Coefficient names follow :meth:`data.codebook.Covariate.term_names` (``age_group[4]`` is
85+ vs 55-64; ``extraversion`` is per 3 points on the 0-13 scale).
"""

from __future__ import annotations

from types import MappingProxyType as _F

__all__ = ["COHESION_ITEM_TARGETS", "COHESION_TENANT_SD", "TRUE_EFFECTS"]

# form effects are listed for GG, LZ, HZ, RO, RR, RG, RB
TRUE_EFFECTS = _F({
    "contact": _F({
        "forms": (1.0, 0.1, 0.0, 0.6, 0.6, 0.1, 0.7),
        "complex_sd": 0.5,
        "complex_terms": _F({"rural": 0.4}),
        "coefficients": _F({"lives_alone": -0.3, "little_outside_contact": -0.5,
                            "social_motive": 0.5, "extraversion": 0.7, "female": 0.1,
                            "activity_limitation": -0.2}),
    }),
    "friendly_contact": _F({
        "forms": (0.6, 0.5, 0.0, 0.5, 0.6, 0.5, 0.7),
        "complex_sd": 0.4,
        "complex_terms": _F({}),
        # contact_daily is calibrated (published: 29% daily+friendly, 17% of regular friendly)
        "coefficients": _F({"female": 0.3, "age_group[2]": 0.3, "age_group[3]": 0.3,
                            "age_group[4]": 0.3, "social_motive": 0.4, "extraversion": 0.4,
                            "residence_duration[2]": 0.4, "residence_duration[3]": 0.4}),
    }),
    "activity_organised": _F({
        "forms": (0.0, 0.1, 0.0, 1.5, 1.8, 1.6, 1.9),
        "complex_sd": 0.8,
        "complex_terms": _F({}),
        "coefficients": _F({"little_outside_contact": -0.3, "extraversion": 0.2}),
    }),
    "activity_participation": _F({
        "forms": (0.0, 0.0, 0.0, 0.6, 0.8, 0.6, 0.9),
        "complex_sd": 0.5,
        "complex_terms": _F({}),
        "coefficients": _F({"activity_limitation": -0.5, "personal_care": -0.3,
                            "extraversion": 0.4, "social_motive": 0.5}),
    }),
    "organised_together": _F({
        "forms": (0.2, 0.0, 0.0, 0.1, 0.7, 0.2, 0.9),
        "complex_sd": 0.5,
        "complex_terms": _F({}),
        "coefficients": _F({"extraversion": 0.5, "social_motive": 0.4,
                            "activity_limitation": -0.4}),
    }),
    "maintained_together": _F({
        "forms": (0.8, 0.2, 0.0, 0.0, 0.2, 0.1, 0.9),
        "complex_sd": 0.6,
        "complex_terms": _F({}),
        "coefficients": _F({"activity_limitation": -0.5, "extraversion": 0.3, "female": -0.1}),
    }),
    "gossip": _F({
        "forms": (0.1, 0.0, 0.0, 0.0, 0.1, 0.3, 0.6),
        "complex_sd": 0.4,
        "complex_terms": _F({}),
        "coefficients": _F({"financial_vulnerability": 0.3, "shared_norms": -0.5}),
    }),
    "cohesion": _F({
        # latent tenant cohesion behind the five items (item-level cumulative logit)
        "forms": (0.1, 0.1, 0.0, 0.1, 0.15, 0.0, 0.2),
        "complex_sd": 0.4,
        "complex_terms": _F({"small_community": 0.4}),
        "coefficients": _F({"age_group[3]": 0.3, "age_group[4]": 0.4,
                            "activity_limitation": -0.3, "lives_alone": -0.2,
                            "little_outside_contact": -0.4, "financial_vulnerability": -0.3,
                            "extraversion": 0.4, "social_motive": 0.4, "shared_norms": 0.8,
                            "residence_duration[2]": -0.3, "residence_duration[3]": -0.3,
                            "education[3]": -0.2}),
    }),
    "lonely": _F({
        "forms": (0.0, 0.0, 0.0, -0.3, -0.05, 0.0, -0.1),
        "complex_sd": 0.3,
        "complex_terms": _F({}),
        "coefficients": _F({"extraversion": -0.5, "social_motive": -0.4, "shared_norms": -0.5,
                            "lives_alone": 0.5, "little_outside_contact": 0.9,
                            "activity_limitation": 0.5, "financial_vulnerability": 0.5}),
    }),
    "help_received": _F({
        "forms": (0.6, 0.2, 0.0, 0.3, 0.0, 0.2, 0.6),
        "complex_sd": 0.4,
        "complex_terms": _F({}),
        "coefficients": _F({"activity_limitation": 0.6, "lives_alone": 0.3,
                            "age_group[4]": -0.3, "extraversion": 0.3, "social_motive": 0.4,
                            "little_outside_contact": -0.3, "residence_duration[2]": 0.3,
                            "residence_duration[3]": 0.3}),
    }),
    "help_given": _F({
        "forms": (0.7, 0.2, 0.0, 0.0, 0.5, 0.5, 0.7),
        "complex_sd": 0.4,
        "complex_terms": _F({"rural": 0.3}),
        "coefficients": _F({"age_group[4]": -0.6, "personal_care": -0.6, "lives_alone": -0.2,
                            "little_outside_contact": -0.4, "financial_vulnerability": 0.2,
                            "social_motive": 0.5, "extraversion": 0.5,
                            "residence_duration[2]": 0.3, "residence_duration[3]": 0.6}),
    }),
})

# ASSUMPTION: no item distribution is published (only a figure of the mean scale). Target
# shares of answers 1..5 per cohesion item, on the positively keyed scale (item 3 reversed).
COHESION_ITEM_TARGETS = (
    (0.03, 0.08, 0.25, 0.44, 0.20),
    (0.07, 0.15, 0.33, 0.33, 0.12),
    (0.08, 0.18, 0.30, 0.30, 0.14),
    (0.05, 0.12, 0.30, 0.40, 0.13),
    (0.04, 0.10, 0.28, 0.42, 0.16),
)
# ASSUMPTION: SD of the tenant-level latent cohesion (beyond covariates and complex).
COHESION_TENANT_SD = 1.2
