"""Who benefits from clustered living forms? Probability-scale effects by subgroup.

For each moderator (openness: extraversion, social motive; vulnerability: little outside
contact, activity limitation) and each of its levels, everyone in the analysed population is
given that level and placed in each form in turn (g-computation, a new complex); the
clustered advantage is the mean over the clustered forms minus the mean over the
non-clustered ones, in percentage points. The difference of that advantage between the
moderator's levels answers "does it help the open more than the isolated?".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data import codebook as cb
from data.suite import MODERATORS
from diagnostics.effects import (
    event_label,
    event_probability,
    focal_effects,
    posterior_draws,
    random_sd,
)
from diagnostics.summary import draw_summary
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["LEVELS", "benefit_table"]

# levels compared per moderator (raw codes; extraversion: 2 vs 11 of 13 extravert answers)
LEVELS = {"extraversion": (2, 11), "social_motive": (0, 1), "little_outside_contact": (0, 1),
          "activity_limitation": (0, 1)}


def _set(spec: ModelSpec, data: ModelData, moderator: str, raw: float, clustered: int):
    X = data.X.copy()
    names = list(data.term_names)
    term = next(t for t in spec.terms if t.name == moderator)
    value = (raw - term.center) / term.scale
    X[:, names.index(moderator)] = value
    X[:, names.index(f"clustered:{moderator}")] = clustered * value
    return X


def benefit_table(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                  max_draws: int = 400, ci_prob: float = 0.9) -> pd.DataFrame:
    """Clustered minus non-clustered P(event) per moderator level, and its difference."""
    draws = posterior_draws(tree, max_draws=max_draws)
    effects = focal_effects(spec, data, draws)
    sd = random_sd(spec, draws)
    forms = list(data.level_labels[spec.focal])
    flag = np.array([int(cb.FORM_BY_CODE[f].clustered) for f in forms])
    label, _ = event_label(spec, data)
    rows = []

    def add(moderator, level, what, v):
        stats = draw_summary(v, ci_prob=ci_prob)
        rows.append({"model": spec.name, "outcome": spec.outcome, "event": label,
                     "moderator": moderator, "level": level, "contrast": what,
                     "mean": stats["mean"], "q05": stats["q05"], "q95": stats["q95"],
                     "p_positive": float((v > 0).mean())})

    for moderator in MODERATORS:
        if f"clustered:{moderator}" not in data.term_names:
            continue
        advantage = {}
        for raw in LEVELS[moderator]:
            probs = np.column_stack([
                event_probability(spec, data, draws, X=_set(spec, data, moderator, raw, c),
                                  offset=effects[:, f], sd=sd)
                for f, c in enumerate(flag)])  # (S, F)
            adv = 100 * (probs[:, flag == 1].mean(axis=1) - probs[:, flag == 0].mean(axis=1))
            advantage[raw] = adv
            add(moderator, str(raw), "clustered - non-clustered (pp)", adv)
        low, high = LEVELS[moderator]
        add(moderator, f"{high} vs {low}", "difference in clustered advantage (pp)",
            advantage[high] - advantage[low])
    return pd.DataFrame(rows)
