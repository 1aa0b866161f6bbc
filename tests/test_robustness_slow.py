"""Slow tier: the robustness figures in a world with a known unmeasured confounder.

A hidden binary trait ``U`` is four times as common in living form A as in the reference R
(and as common in B as in R) and raises the outcome's odds 2.7-fold; A has *no* effect of
its own, B a real one. The model is fitted without ``U``. A's apparent effect is then
pure confounding: the robustness table must say that a confounder of ``U``'s strength can
move its interval to no effect (``k <= 1`` measured against ``U``), while B's contrast,
which ``U`` cannot explain (it is balanced between B and R), must not be flagged.

Run with ``uv run pytest -m slow tests/test_robustness_slow.py -s`` (about 1 minute).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from diagnostics.effects import probability_effects
from diagnostics.robustness import bias_factor, odds_to_risk_ratio, strength_multiple
from inference.engine import Engine, SamplerSettings
from models.design import prepare
from models.spec import ModelSpec
from models.terms import Covariate
from workflows.fit import contrast_robustness

pytestmark = pytest.mark.slow
U_PREVALENCE = {"A": 0.6, "B": 0.15, "R": 0.15}
U_LOG_OR = 1.0
FORM_EFFECT = {"A": 0.0, "B": 0.9, "R": 0.0}


def _world(seed: int = 11, n_complex: int = 240, per_complex: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    forms = np.array(["A", "B", "R"])[np.arange(n_complex) % 3]
    u_complex = rng.normal(0, 0.3, n_complex)
    rows = []
    for c in range(n_complex):
        f = forms[c]
        u = rng.random(per_complex) < U_PREVALENCE[f]
        x = rng.random(per_complex) < 0.4  # a measured covariate, balanced over forms
        eta = -1.3 + FORM_EFFECT[f] + U_LOG_OR * u + 0.5 * x + u_complex[c]
        y = rng.random(per_complex) < 1 / (1 + np.exp(-eta))
        rows.append(pd.DataFrame({"complex": f"c{c}", "form": f, "x": x.astype(int),
                                  "u": u.astype(int), "y": y.astype(int)}))
    return pd.concat(rows, ignore_index=True)


def test_robustness_flags_what_the_hidden_confounder_overturns():
    frame = _world()
    spec = ModelSpec(name="y", outcome="y", response="y", family="bernoulli",
                     terms=(Covariate("x", "binary"),), levels=("complex", "form"),
                     focal="form", reference="R", level_order=("A", "B", "R"))
    data = prepare(frame, spec)
    tree = Engine().fit(spec, data, SamplerSettings(chains=2, draws=500, tune=500, seed=2,
                                                    predictive=False))
    effects = probability_effects(tree, spec, data)
    result = SimpleNamespace(spec=spec, data=data, tree=tree)
    table = contrast_robustness([result], [], effects).set_index("contrast")
    print("\n" + table[["mean", "q05", "q95", "rr_median", "e_value_interval",
                        "bias_interval", "benchmark", "k_interval"]].to_string())

    # U's actual strength, as the survey would have measured it
    base = frame.loc[frame["form"] == "R", "y"].mean()
    rr_ud = odds_to_risk_ratio(np.exp(U_LOG_OR), base)

    def rr_eu(level):
        p = frame.groupby("form")["u"].mean()
        return max(p[level] / p["R"], (1 - p["R"]) / (1 - p[level]),
                   p["R"] / p[level], (1 - p[level]) / (1 - p["R"]))

    a, b = table.loc["A - R"], table.loc["B - R"]
    assert a["q05"] > 0, "A's spurious effect must look real for the test to mean anything"
    # a confounder of U's generated strength can move A's interval to no effect ...
    assert bias_factor(rr_eu("A"), rr_ud) >= a["bias_interval"]
    assert strength_multiple(rr_eu("A"), rr_ud, a["bias_interval"]) <= 1.0
    # ... but not B's: U is balanced between B and R
    assert b["q05"] > 0
    assert strength_multiple(rr_eu("B"), rr_ud, b["bias_interval"]) > 1.0
    # the measured benchmark (x, balanced over forms) is weak: neither contrast is called
    # fragile by it
    assert a["benchmark"] == "x" and a["k_interval"] > 1 and b["k_interval"] > 1
