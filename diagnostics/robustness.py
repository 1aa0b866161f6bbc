"""How strong an unmeasured confounder would have to be to overturn a contrast.

The method is the E-value (VanderWeele & Ding 2017, *Ann Intern Med* 167:268-274) with its
bounding factor (Ding & VanderWeele 2016, *Epidemiology* 27:368-377): an unmeasured
confounder ``U`` whose risk ratio with the exposure (the living form, comparing the two
levels of a contrast) is ``RR_EU`` and with the outcome ``RR_UD`` can shift an observed
risk ratio by at most the factor ``B = RR_EU RR_UD / (RR_EU + RR_UD - 1)``. The E-value is
the smallest equal strength of both associations that can produce a given ``B``; it needs
no model of ``U`` and no refit, which is why it is chosen here over a Bayesian bias
analysis with a latent confounder (whose answer rests on the priors given to ``U``'s
associations). It is read on the probability scale a housing association uses: the
contrasts' risk ratios come from the same g-computation draws as the percentage points.

Three targets per contrast: the point estimate explained away (``e_value_point``), the 90%
interval moved to include no effect (``e_value_interval``), and the effect halved on the
difference scale (``e_value_halve``). Each is *benchmarked* against the measured covariates
(as Cinelli & Hazlett 2020, *JRSS-B* 82:39-67, benchmark against observed ones): every
covariate's own ``RR_EU`` (its prevalence in one level over the other) and ``RR_UD`` (from
its fitted coefficient) give the bias it would cause if it were unmeasured, and
``k_interval`` says how many times as strong -- both log risk ratios multiplied by ``k`` --
the strongest covariate's would have to be to move the interval to 0. ``k < 1``: a
confounder weaker than one the survey measured could do it.

Odds ratios are turned into risk ratios at the contrast's base rate (Zhang & Yu 1998,
*JAMA* 280:1690); a mean difference ``d`` in outcome SD units as ``RR = exp(0.91 d)``
(VanderWeele & Ding 2017). Pure functions; nothing is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

__all__ = ["bias_factor", "covariate_benchmarks", "e_value", "odds_to_risk_ratio",
           "robustness_table", "strength_multiple"]


def bias_factor(rr_eu: float, rr_ud: float) -> float:
    """The most an unmeasured confounder with these risk ratios can bias a risk ratio."""
    return rr_eu * rr_ud / (rr_eu + rr_ud - 1.0)


def e_value(bias: float) -> float:
    """The equal strength of both associations that gives the bias factor ``bias``
    (``B`` or ``1/B``, whichever is >= 1): ``B + sqrt(B (B - 1))``."""
    b = max(bias, 1.0 / bias) if bias > 0 else np.inf
    return float(b + np.sqrt(b * (b - 1.0)))


def strength_multiple(rr_eu: float, rr_ud: float, needed: float) -> float:
    """``k`` with ``bias_factor(rr_eu**k, rr_ud**k) == needed``: how many times as strong (on
    the log risk-ratio scale) as a benchmark a confounder must be to cause the bias
    ``needed``. 0 when nothing is needed; inf when the benchmark has no strength."""
    if needed <= 1.0:
        return 0.0
    if rr_eu <= 1.0 or rr_ud <= 1.0:
        return np.inf

    def gap(k: float) -> float:
        return np.log(bias_factor(rr_eu**k, rr_ud**k)) - np.log(needed)
    high = 1.0
    while gap(high) < 0:
        high *= 2.0
        if high > 1e4:
            return np.inf
    return float(brentq(gap, 0.0, high))


def odds_to_risk_ratio(odds_ratio: float, base: float) -> float:
    """An odds ratio as a risk ratio at the base rate ``base`` (Zhang & Yu 1998)."""
    return float(odds_ratio / (1.0 - base + base * odds_ratio))


def _levels(cols: np.ndarray) -> np.ndarray:
    """Each row's level of a covariate from its design columns: a 0/1 column as is, dummy
    columns as the index of the set one (0: the reference), a numeric column split at its
    median (1: above)."""
    if cols.shape[1] > 1:
        return np.where(cols.any(axis=1), cols.argmax(axis=1) + 1, 0)
    x = cols[:, 0]
    if set(np.unique(x)) <= {0.0, 1.0}:
        return x.astype(int)
    return (x > np.median(x)).astype(int)


def _log_or_range(cols: np.ndarray, beta: np.ndarray) -> float:
    """The largest difference in the latent predictor between two levels of the covariate
    (a numeric one: between the means of its halves)."""
    if cols.shape[1] > 1 or set(np.unique(cols[:, 0])) <= {0.0, 1.0}:
        values = np.concatenate([[0.0], beta])
        return float(values.max() - values.min())
    x = cols[:, 0]
    hi = x > np.median(x)
    return float(abs(beta[0]) * (x[hi].mean() - x[~hi].mean()))


def covariate_benchmarks(*, term_names, X: np.ndarray, level: np.ndarray, level_a: int,
                         level_b: int, beta: np.ndarray, base: float,
                         outcome_sd: float | None = None,
                         exclude: frozenset = frozenset()) -> pd.DataFrame:
    """What each measured covariate would bias the contrast of ``level_a`` vs ``level_b``
    by, were it unmeasured: one row per covariate with ``rr_exposure`` (its largest
    prevalence ratio between the two levels' rows, +0.5 smoothing), ``rr_outcome`` (its
    coefficient's largest latent difference ``beta`` as a risk ratio at ``base``, or, for a
    Gaussian outcome with ``outcome_sd``, ``exp(0.91 d)``) and ``bias``.

    ``term_names`` name ``X``'s columns (``age_group[2]`` is a level of ``age_group``),
    ``level`` is each row's focal level index and ``beta`` the posterior mean per column;
    ``exclude`` names terms that are no confounder (a two-part outcome's gate term).
    """
    names = [t.split("[", 1)[0] for t in term_names]
    a, b = level == level_a, level == level_b
    rows = []
    for cov in dict.fromkeys(names):
        if ":" in cov or cov in exclude:  # an interaction, a gate term: no confounder
            continue
        idx = [i for i, n in enumerate(names) if n == cov]
        cols = X[:, idx]
        lev = _levels(cols)
        values = np.unique(lev)
        pa = np.array([(np.sum(lev[a] == v) + 0.5) / (a.sum() + 0.5 * len(values))
                       for v in values])
        pb = np.array([(np.sum(lev[b] == v) + 0.5) / (b.sum() + 0.5 * len(values))
                       for v in values])
        rr_eu = float(max(np.max(pa / pb), np.max(pb / pa)))
        shift = _log_or_range(cols, beta[idx])
        rr_ud = float(np.exp(0.91 * shift / outcome_sd)) if outcome_sd else \
            odds_to_risk_ratio(np.exp(shift), base)
        rows.append({"covariate": cov, "rr_exposure": rr_eu, "rr_outcome": rr_ud,
                     "bias": bias_factor(rr_eu, rr_ud) if rr_eu > 1 and rr_ud > 1 else 1.0})
    return pd.DataFrame(rows)


def _needed(row) -> tuple[float, float, float]:
    """The bias factors that explain the point away, move the interval to 1, halve it."""
    rr, low, high = row["rr_median"], row["rr_lower"], row["rr_upper"]
    point = max(rr, 1.0 / rr)
    if low > 1.0:
        interval = low
    elif high < 1.0:
        interval = 1.0 / high
    else:
        interval = 1.0
    half = (1.0 + rr) / 2.0  # the risk ratio of half the risk difference
    halve = max(rr / half, half / rr)
    return point, interval, halve


def robustness_table(rows: pd.DataFrame, benchmarks: dict) -> pd.DataFrame:
    """One row per contrast of ``rows`` (effects rows with ``rr_median``, ``rr_lower``,
    ``rr_upper``; a Gaussian outcome's converted by the caller): the E-values of the three
    targets and the bias factors behind them (``bias_*``: what a confounder must be able
    to cause, :func:`bias_factor`), the measured covariate whose strength would be the
    most dangerous as an unmeasured one (``benchmark``), ``k_interval`` and ``k_halve``
    relative to it, and a ``robustness`` sentence. ``benchmarks``: ``(model, contrast) ->``
    :func:`covariate_benchmarks` table.
    """
    out = []
    for _, row in rows.iterrows():
        if not np.isfinite(row.get("rr_median", np.nan)):
            continue
        point, interval, halve = _needed(row)
        bench = benchmarks.get((row["model"], row["contrast"]))
        entry = {"model": row["model"], "outcome": row["outcome"],
                 "contrast": row["contrast"], "mean": row.get("mean"),
                 "q05": row.get("q05"), "q95": row.get("q95"),
                 "rr_median": row["rr_median"], "rr_lower": row["rr_lower"],
                 "rr_upper": row["rr_upper"],
                 "bias_point": point, "bias_interval": interval, "bias_halve": halve,
                 "e_value_point": e_value(point), "e_value_interval": e_value(interval),
                 "e_value_halve": e_value(halve),
                 "benchmark": None, "benchmark_rr_exposure": np.nan,
                 "benchmark_rr_outcome": np.nan, "k_interval": np.nan, "k_halve": np.nan}
        if bench is not None and len(bench) and interval > 1.0:  # else nothing to overturn
            ks = [(strength_multiple(r.rr_exposure, r.rr_outcome, interval),
                   strength_multiple(r.rr_exposure, r.rr_outcome, halve), r)
                  for r in bench.itertuples()]
            k_i, k_h, best = min(ks, key=lambda t: (t[0], t[1]))
            entry |= {"benchmark": best.covariate, "benchmark_rr_exposure": best.rr_exposure,
                      "benchmark_rr_outcome": best.rr_outcome, "k_interval": k_i,
                      "k_halve": k_h}
        entry["robustness"] = _sentence(entry, interval)
        out.append(entry)
    return pd.DataFrame(out)


def _sentence(entry: dict, interval: float) -> str:
    if interval <= 1.0:
        return "interval already includes no effect"
    text = (f"moving the 90% interval to 0 needs a confounder with risk ratio "
            f"{entry['e_value_interval']:.2f} with both form and outcome")
    k, cov = entry["k_interval"], entry["benchmark"]
    if cov is not None and np.isfinite(k):
        text += (f": {k:.1f}x as strong as {cov}" +
                 (" (weaker than a measured covariate: fragile)" if k < 1 else ""))
    return text
