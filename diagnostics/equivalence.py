"""Equivalence of several groups judged against a region of practical equivalence (pure).

A claim of "little difference between the forms" is about every pair of the k forms at
once. Per posterior draw the k(k-1)/2 pairwise differences and their largest absolute
value are computed; the claim is

* ``equivalent`` when P(largest |difference| < ROPE) >= ``level`` -- a posterior
  probability of the claim itself, all pairs in the same draw (Kruschke 2018: the
  posterior mass inside the ROPE);
* ``different`` when some pair lies beyond the ROPE *on one side* inside a simultaneous
  ``level`` credible band over all pairs. The band is ``mean +- c * sd`` per pair, with
  ``c`` the ``level`` quantile over the draws of the largest standardised deviation
  ``max_pairs |d - mean| / sd`` (the max-|t| construction of simultaneous bands). Judging
  "different" by P(largest |difference| > ROPE) instead would read imprecision as
  difference: the maximum of 21 noisy differences exceeds any small ROPE when the
  posteriors are wide, whatever the truth; the simultaneous band keeps the rate of false
  "different" verdicts near ``1 - level`` when the forms are equal (Tukey's range test is
  its flat-prior counterpart);
* ``uncertain`` otherwise -- typically too little data to tell.

The ROPE's half-width is given in standardised units (:data:`ROPE_SD`, Kruschke's default
of half a small effect): for a probability outcome a shift of ``rope_sd`` on a standard
normal latent scale at the outcome's base rate, in percentage points; for a continuous
outcome ``rope_sd`` response SDs.

Kruschke, J. K. (2018). Rejecting or accepting parameter values in Bayesian estimation.
Advances in Methods and Practices in Psychological Science 1(2), 270-280.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["LARGEST", "LEVEL", "ROPE_SD", "ROPE_WIDTHS", "equivalence_rows",
           "equivalence_verdict", "rope_width"]

LEVEL = 0.95  # the posterior probability every verdict needs (directional, joint, equivalence)
ROPE_SD = 0.1  # half of a small standardised effect (d = 0.2): Kruschke (2018)'s default
ROPE_WIDTHS = (0.05, 0.1, 0.15, 0.2)  # the sensitivity table's widths, same units
LARGEST = "largest |difference|"  # the ``pair`` label of the row that judges all pairs


def rope_width(probabilities: np.ndarray, *, on_probability_scale: bool,
               response_sd: float, rope_sd: float = ROPE_SD) -> float:
    """Half-width of the ROPE on the outcome scale: percentage points or response units.

    A probability outcome's base rate ``p`` is the mean of ``probabilities`` (draws x
    forms, unweighted over the forms); a shift of ``rope_sd`` on a standard normal latent
    scale moves the share by about ``rope_sd * phi(Phi^-1(p))`` -- 2.3 pp at p = 0.15, 4.0
    pp at p = 0.5. A continuous outcome's ROPE is ``rope_sd * response_sd``.
    """
    if not on_probability_scale:
        return float(rope_sd * response_sd)
    base = float(np.clip(np.mean(probabilities), 1e-6, 1 - 1e-6))
    return float(100.0 * rope_sd * norm.pdf(norm.ppf(base)))


def equivalence_verdict(p_equivalent: float, p_different: float, *,
                        level: float = LEVEL) -> str:
    """``equivalent`` / ``different`` / ``uncertain`` (see the module docstring)."""
    if p_equivalent >= level:
        return "equivalent"
    return "different" if p_different >= level else "uncertain"


def equivalence_rows(values: np.ndarray, labels: Sequence[str], *, rope: float,
                     level: float = LEVEL) -> pd.DataFrame:
    """The equivalence of ``k`` groups from draws ``values`` (sample, k) on the outcome scale.

    The first row (``pair`` = :data:`LARGEST`) judges the claim: ``mean`` and ``upper``
    (the ``level`` quantile) of the largest absolute pairwise difference per draw,
    ``p_equivalent`` = P(largest < ``rope``), ``p_different`` = the largest of the pairs'.
    Then one row per pair ``a - b``: its mean difference, the simultaneous ``level``
    band (``band_lo``, ``band_hi``), ``upper`` (the ``level`` quantile of |difference|),
    ``p_equivalent`` = P(|difference| < ``rope``) and ``p_different``: the credibility of
    the widest simultaneous band that still leaves this pair beyond the ROPE on one side
    (0 when its mean lies inside). A pair's ``verdict`` uses the same rule.
    """
    values = np.asarray(values, dtype=float)
    i, j = np.triu_indices(values.shape[1], 1)
    diffs = values[:, i] - values[:, j]  # (sample, pair)
    largest = np.abs(diffs).max(axis=1)  # (sample,)
    mean, sd = diffs.mean(axis=0), diffs.std(axis=0, ddof=1)
    spread = sd > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # per draw, the largest standardised deviation over all pairs
        t = np.where(spread, np.abs(diffs - mean) / np.where(spread, sd, 1.0), 0.0).max(axis=1)
        # how many posterior sds each pair's mean lies beyond the ROPE
        beyond = np.where(spread, (np.abs(mean) - rope) / np.where(spread, sd, 1.0),
                          np.where(np.abs(mean) > rope, np.inf, -np.inf))
    p_different = (t[:, None] < beyond[None, :]).mean(axis=0)  # (pair,)
    c = float(np.quantile(t, level))
    p_largest = float((largest < rope).mean())
    rows = [{"pair": LARGEST, "mean": float(largest.mean()),
             "upper": float(np.quantile(largest, level)), "band_lo": np.nan,
             "band_hi": np.nan, "p_equivalent": p_largest,
             "p_different": float(p_different.max()),
             "verdict": equivalence_verdict(p_largest, float(p_different.max()), level=level)}]
    for k, (a, b) in enumerate(zip(i, j, strict=True)):
        p_in = float((np.abs(diffs[:, k]) < rope).mean())
        rows.append({"pair": f"{labels[a]} - {labels[b]}", "mean": float(mean[k]),
                     "upper": float(np.quantile(np.abs(diffs[:, k]), level)),
                     "band_lo": float(mean[k] - c * sd[k]),
                     "band_hi": float(mean[k] + c * sd[k]), "p_equivalent": p_in,
                     "p_different": float(p_different[k]),
                     "verdict": equivalence_verdict(p_in, float(p_different[k]), level=level)})
    return pd.DataFrame(rows)
