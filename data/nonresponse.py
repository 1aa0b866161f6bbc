"""Who answers, and which answers are missing: the simulator's survey process.

The study invited 14,921 tenants and analysed 2,963 (STUDY.md); tenants aged 85+ who did
not return the written questionnaire were phoned. With ``Design(invited=N)`` the simulator
draws an *invited population* of ``N`` tenants (covariates and outcomes for all of them),
then the survey process of this module:

* **written response**: ``logit P(answer) = a + age + household + sex + form
  [+ response_outcome * lonely]`` (:data:`RESPONSE_MODEL`; the intercept ``a`` is solved so
  that the expected number of respondents is the design's ``n_tenants``);
* **phoning of 85+**: written non-respondents aged 85+ get a second chance with the
  phone boost added to their log-odds;
* **covariate missingness** among respondents (:func:`covariate_missing`): each covariate
  of :data:`MISSING_COVARIATES` is missing with probability
  ``expit(logit(rate) + 0.8 [age 85+] + 0.8 personal_care)`` -- missing at random given age
  and frailty, both always observed -- or, with ``missing_not_at_random``, also
  ``+ 1.0 x`` the covariate's own standardised value.

Response depends on the register's variables (age group, sex, household, form), which
also drive the outcomes: respondents are not the population, but given the register cells
they are. ``response_outcome`` adds response that depends on loneliness itself, given the
cells (not missing at random: post-stratification cannot repair it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

__all__ = ["MISSING_COVARIATES", "REGISTER_COLUMNS", "RESPONSE_MODEL", "covariate_missing",
           "respond"]

# ASSUMPTION: the report gives the response (3,712 of 14,921) but not who answered; these
# log-odds are ours: the oldest and those living alone answer least, women a little more,
# residents of the communal forms more, of RO (frail) less. 85+ are phoned when they did
# not answer in writing.
RESPONSE_MODEL = {
    "age_group": (0.0, -0.1, -0.5, -1.3),
    "lives_alone": -0.7,
    "female": 0.2,
    "forms": {"RO": -0.4, "RR": 0.3, "RB": 0.5, "RG": 0.2},
    "phone_boost_85": 1.0,
}
# what a housing association's register holds per invited tenant
REGISTER_COLUMNS = ("tenant_id", "complex_id", "living_form", "age_group", "female",
                    "lives_alone")
# covariates that go missing among respondents (self-reported; the register ones do not)
MISSING_COVARIATES = ("extraversion", "financial_vulnerability", "activity_limitation",
                      "little_outside_contact", "social_motive", "shared_norms", "education")


def _log_odds(frame: pd.DataFrame, lonely: np.ndarray | None, response_outcome: float,
              selection: float = 1.0) -> np.ndarray:
    m = RESPONSE_MODEL
    eta = np.asarray(m["age_group"])[frame["age_group"].to_numpy(int) - 1]
    eta = eta + m["lives_alone"] * frame["lives_alone"].to_numpy(float)
    eta = eta + m["female"] * frame["female"].to_numpy(float)
    eta = selection * (eta + frame["living_form"].map(m["forms"]).fillna(0.0).to_numpy(float))
    if response_outcome and lonely is not None:
        eta = eta + response_outcome * np.asarray(lonely, float)
    return eta


def respond(frame: pd.DataFrame, *, n_target: int, rng: np.random.Generator,
            lonely: np.ndarray | None = None, response_outcome: float = 0.0,
            selection: float = 1.0) -> pd.DataFrame:
    """Who answers among the invited ``frame`` (register columns; ``lonely`` per row when
    response depends on it): a frame of ``responded`` and ``phoned`` (0/1) per row.

    The intercept is solved so that the expected number of respondents (written plus
    phoned) is ``n_target``. ``selection`` multiplies the register terms' log-odds (1: the
    assumed :data:`RESPONSE_MODEL`; 0: response at random).
    """
    eta = _log_odds(frame, lonely, response_outcome, selection)
    old = frame["age_group"].to_numpy(int) == 4
    boost = RESPONSE_MODEL["phone_boost_85"]

    def expected(a: float) -> float:
        p1 = expit(a + eta)
        return float(p1.sum() + ((1 - p1) * expit(a + eta + boost))[old].sum())

    if not 0 < n_target < len(frame):
        raise ValueError(f"need 0 < respondents ({n_target}) < invited ({len(frame)})")
    a = brentq(lambda a: expected(a) - n_target, -20.0, 20.0, xtol=1e-10)
    written = rng.random(len(frame)) < expit(a + eta)
    phoned = ~written & old & (rng.random(len(frame)) < expit(a + eta + boost))
    return pd.DataFrame({"responded": (written | phoned).astype(int),
                         "phoned": phoned.astype(int)}, index=frame.index)


def covariate_missing(tenants: pd.DataFrame, *, rate: float, rng: np.random.Generator,
                      not_at_random: bool = False) -> pd.DataFrame:
    """``tenants`` with covariate cells of :data:`MISSING_COVARIATES` set missing at about
    ``rate`` each: more often for 85+ and tenants receiving personal care (missing at random
    given those); with ``not_at_random``, also more often the higher the covariate's own
    value."""
    out = tenants.copy()
    base = logit(rate) + 0.8 * (out["age_group"].to_numpy(float) == 4) \
        + 0.8 * out["personal_care"].to_numpy(float)
    for col in MISSING_COVARIATES:
        if col not in out:
            continue
        eta = base.copy()
        if not_at_random:
            x = out[col].to_numpy(float)
            eta = eta + (x - np.nanmean(x)) / max(np.nanstd(x), 1e-9)
        out[col] = out[col].astype("Int64").mask(rng.random(len(out)) < expit(eta))
    return out
