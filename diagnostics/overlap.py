"""Covariate overlap between the focal levels: where a contrast extrapolates.

A contrast "RO - HZ" by g-computation places every analysed row in RO and in HZ. Where RO's
residents and HZ's residents differ so much in their covariates that some kinds of tenant
live only in one of them, the model's answer for those tenants rests on its functional form
alone. The check follows the generalised propensity score (Imbens 2000): a multinomial
logistic regression of the focal level on the covariates (scikit-learn, fitted once), and
per contrast ``a - b`` the score ``e_a / (e_a + e_b)`` of the rows of ``a`` and ``b``. The
region of common support is where both groups' scores lie (Crump et al. 2009's trimming
idea, here only reported): ``outside_support`` is the share of the two groups' rows outside
it, and a contrast whose share exceeds :data:`EXTRAPOLATION_SHARE` is flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["EXTRAPOLATION_SHARE", "overlap_table"]

EXTRAPOLATION_SHARE = 0.10  # more than 10% of the two groups outside common support


def _scores(X: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Generalised propensity scores ``P(level | x)``, shape (n, n_groups)."""
    from sklearn.linear_model import LogisticRegression

    if X.shape[1] == 0:  # no covariates: every row looks alike
        shares = np.bincount(groups, minlength=n_groups) / len(groups)
        return np.tile(shares, (len(groups), 1))
    sd = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    # lbfgs fits the multinomial (softmax) model; C=100: nearly unpenalised
    model = LogisticRegression(C=100.0, max_iter=2000).fit(Z, groups)
    out = np.zeros((len(groups), n_groups))
    out[:, model.classes_] = model.predict_proba(Z)
    return out


def overlap_table(spec: ModelSpec, data: ModelData) -> pd.DataFrame:
    """Per contrast of the focal level vs the reference: common support of the covariates.

    Uses the model's own design (``data.X``: the covariates the effect is adjusted for) and
    its analysed rows. Columns: ``model, contrast, n_a, n_b, mean_score_a, mean_score_b,
    support_low, support_high, outside_support, extrapolates``.
    """
    if not spec.focal or spec.reference is None:
        raise ValueError(f"model {spec.name!r} has no focal level to check overlap for")
    labels = list(data.level_labels[spec.focal])
    groups = data.level_idx[spec.focal]
    scores = _scores(data.X, groups, len(labels))
    b = labels.index(spec.reference)
    rows = []
    for a, label in enumerate(labels):
        if a == b:
            continue
        in_a, in_b = groups == a, groups == b
        if not in_a.any() or not in_b.any():
            continue
        e = scores[:, a] / np.maximum(scores[:, a] + scores[:, b], 1e-12)
        low = max(e[in_a].min(), e[in_b].min())
        high = min(e[in_a].max(), e[in_b].max())
        both = in_a | in_b
        outside = float(((e[both] < low) | (e[both] > high)).mean())
        rows.append({"model": spec.name, "contrast": f"{label} - {spec.reference}",
                     "n_a": int(in_a.sum()), "n_b": int(in_b.sum()),
                     "mean_score_a": float(e[in_a].mean()),
                     "mean_score_b": float(e[in_b].mean()),
                     "support_low": float(low), "support_high": float(high),
                     "outside_support": outside,
                     "extrapolates": outside > EXTRAPOLATION_SHARE})
    return pd.DataFrame(rows)
