"""How far non-ignorable non-response would move each conclusion: a delta adjustment with
its tipping point (pure functions; nothing is written).

Post-stratification and response-propensity weights assume that within a cell the
tenants who did not answer are like those who did (missing at random given the cells). A
survey on loneliness plausibly breaks that: the lonely answer less. The delta adjustment
(the pattern-mixture sensitivity analysis of Little 1994 and of the NRC 2010 report on
missing data, as used in trials' tipping-point analyses) makes the departure explicit:
the non-respondents are ``delta`` log-odds (a Gaussian outcome: ``delta`` outcome units)
more likely to have the event than respondents like them, and the population's estimate
is recomputed over a grid of ``delta``:

``P_f(delta) = sum_j w_j [(1 - pi_j) p_jf + pi_j p_jf(delta)] / sum_j w_j``

over the population's target rows ``j`` (:class:`data.population.Target`: every cell
predicted at its own values, weight ``w_j``), with ``pi_j`` the non-respondent share of
row ``j``'s register cell and ``p_jf(delta)`` the model's event probability in form ``f``
with the latent predictor shifted by ``delta`` (a new complex, integrated over the
complex effects), per posterior draw.

Two uses:

* **levels** -- ``delta`` in every form: "if the non-respondents were lonelier by delta,
  what share of the population would be lonely in each form?";
* **contrasts** -- ``delta`` in the contrast's first form only (the arm-specific
  adjustment of a tipping-point analysis: a delta shared by both forms of a standardised
  contrast nearly cancels): "how much more (or less) likely to have the event would the
  non-respondents have to be *in RO alone* for 'RO lower than HZ' to stop holding?"

A third use refits the models: :func:`data.imputation.delta_adjusted` moves a covariate's
*imputed* values by delta (the tenants with a missing value differ from the imputation
model's prediction), ``run_models.py tipping`` fits the suite at every delta and the same
table is made with delta in both forms of each contrast (``arm_specific=False``).

The **tipping point** of a conclusion whose interval excludes 0 at ``delta = 0`` is the
smallest ``|delta|`` (linearly interpolated on the grid, in the direction that shrinks
the effect) at which the interval reaches 0 (``delta_uncertain``) and at which the
posterior mean changes sign (``delta_reversed``); empty where the grid never gets there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_DELTAS", "delta_probabilities", "nonresponse_share", "tipping_points"]

DEFAULT_DELTAS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)


def nonresponse_share(population, target) -> np.ndarray:
    """``pi_j`` per target row: the non-respondent share of its register cell (1 minus the
    cell's response rate). ``ValueError`` for a table of cell counts (no response known)."""
    counts = population.counts
    if "responded" not in counts:
        raise ValueError(f"population {population.name}: a tipping-point analysis needs a "
                         f"register (who responded), not cell counts")
    pi = 1.0 - counts["responded"].to_numpy(float) / counts["count"].to_numpy(float)
    return pi[target.cell]


def delta_probabilities(spec, data, draws, X: np.ndarray, weights: np.ndarray,
                        pi: np.ndarray, deltas: Sequence[float], *,
                        estimand: str = "new_complex") -> np.ndarray:
    """``(len(deltas), S, F)``: per delta, draw and focal level, the population's event
    probability with every non-respondent's latent predictor shifted by delta.

    ``X`` (m, p) and ``weights`` ((m,) or (m, S)) are the population target's design and
    weights (:func:`diagnostics.effects.population_design`), ``pi`` (m,) the rows'
    non-respondent shares.
    """
    from diagnostics.effects import event_probability, focal_effects, random_sd

    effect = focal_effects(spec, data, draws)
    w = np.asarray(weights, float)
    w = np.broadcast_to(w[:, None] if w.ndim == 1 else w, (len(X), effect.shape[0]))
    w_obs, w_miss = w * (1 - pi)[:, None], w * pi[:, None]
    share = w_miss.sum(axis=0) / w.sum(axis=0)  # (S,)
    out = np.empty((len(deltas), effect.shape[0], effect.shape[1]))
    for f in range(effect.shape[1]):
        sd = random_sd(spec, draws, X, data, focal_index=f)
        if estimand == "typical_complex":
            sd = np.zeros_like(sd)
        observed = event_probability(spec, data, draws, X=X, offset=effect[:, f], sd=sd,
                                     weights=w_obs) if (pi < 1).any() else 0.0
        for i, d in enumerate(deltas):
            shifted = event_probability(spec, data, draws, X=X, offset=effect[:, f] + d,
                                        sd=sd, weights=w_miss) if (pi > 0).any() else 0.0
            out[i, :, f] = (1 - share) * observed + share * shifted
    return out


def _first_crossing(deltas: np.ndarray, values: np.ndarray, direction: float) -> float:
    """The smallest ``|delta|`` (delta in ``direction``) at which ``values`` (ordered as
    ``deltas``) reaches 0 from its sign at delta 0, linearly interpolated; NaN if never."""
    order = np.argsort(deltas)
    d, v = deltas[order], values[order]
    zero = int(np.flatnonzero(d == 0)[0])
    sign = np.sign(v[zero])
    steps = range(zero, len(d) - 1) if direction > 0 else range(zero, 0, -1)
    for i in steps:
        j = i + 1 if direction > 0 else i - 1
        if sign * v[j] <= 0:
            frac = v[i] / (v[i] - v[j]) if v[i] != v[j] else 0.0
            return float(abs(d[i] + frac * (d[j] - d[i])))
    return np.nan


def tipping_points(probs: np.ndarray, deltas: Sequence[float], forms: Sequence[str],
                   reference: str, *, model: str, outcome: str, event: str,
                   scale: float = 100.0, ci_prob: float = 0.9,
                   arm_specific: bool = True) -> pd.DataFrame:
    """Per contrast ``f - reference`` and delta (``arm_specific``: applied in ``f`` only;
    else in both forms, as a covariate's missing values, which belong to the tenant, are
    adjusted in every form): mean and interval of the contrast, the level of ``f`` with
    delta in every form, and the tipping points.

    ``probs`` is :func:`delta_probabilities`' ``(deltas, S, F)``. Columns: ``model,
    outcome, event, contrast, delta, mean, q05, q95, level_mean, level_q05, level_q95,
    conclusion`` (at delta 0: ``higher``/``lower``/``uncertain``), ``delta_uncertain``,
    ``delta_reversed``.
    """
    deltas = np.asarray(deltas, float)
    if not (deltas == 0).any():
        raise ValueError("the delta grid must contain 0 (the missing-at-random analysis)")
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    zero = int(np.flatnonzero(deltas == 0)[0])
    r = list(forms).index(reference)
    rows = []
    for f, form in enumerate(forms):
        if f == r:
            continue
        ref = probs[zero][None, :, r] if arm_specific else probs[:, :, r]
        diff = scale * (probs[:, :, f] - ref)  # arm-specific: delta in f only
        mean = diff.mean(axis=1)
        q = np.quantile(diff, [lo, hi], axis=1)
        level = scale * probs[:, :, f]
        lq = np.quantile(level, [lo, hi], axis=1)
        if q[0, zero] > 0:
            conclusion, bound, towards = "higher", q[0], -1.0
        elif q[1, zero] < 0:
            conclusion, bound, towards = "lower", q[1], 1.0
        else:
            conclusion, bound, towards = "uncertain", None, 0.0
        uncertain = _first_crossing(deltas, bound, towards) if bound is not None else np.nan
        reversed_ = _first_crossing(deltas, mean, towards) if towards else np.nan
        for i, d in enumerate(deltas):
            rows.append({"model": model, "outcome": outcome, "event": event,
                         "contrast": f"{form} - {reference}", "delta": float(d),
                         "mean": float(mean[i]), "q05": float(q[0, i]), "q95": float(q[1, i]),
                         "level_mean": float(level[i].mean()), "level_q05": float(lq[0, i]),
                         "level_q95": float(lq[1, i]), "conclusion": conclusion,
                         "delta_uncertain": uncertain * towards if towards else np.nan,
                         "delta_reversed": reversed_ * towards if towards else np.nan})
    return pd.DataFrame(rows)
