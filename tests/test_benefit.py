"""Who benefits: clustered x openness/vulnerability interactions on the probability scale."""

import numpy as np
import pytest
import xarray as xr

from data import codebook as cb
from data.suite import benefit_specs
from diagnostics.benefit import benefit_table
from models.build import build_model
from models.design import prepare


@pytest.fixture(scope="module")
def contact_benefit(small_frame):
    spec = benefit_specs()["contact_benefit"]
    return spec, prepare(small_frame, spec)


def test_interaction_columns_are_products(contact_benefit, small_frame):
    spec, data = contact_benefit
    names = list(data.term_names)
    assert {f"clustered:{m}" for m in ("extraversion", "social_motive")} <= set(names)
    x = data.X[:, names.index("extraversion")]
    xi = data.X[:, names.index("clustered:extraversion")]
    forms = np.asarray(data.level_labels["living_form"])[data.level_idx["living_form"]]
    clustered = np.array([cb.FORM_BY_CODE[f].clustered for f in forms])
    assert np.allclose(xi, np.where(clustered, x, 0.0))


def test_benefit_model_has_finite_density(contact_benefit):
    spec, data = contact_benefit
    model = build_model(spec, data)
    point = model.initial_point()
    assert np.isfinite(model.compile_logp(mode="FAST_COMPILE")(point))


def test_benefit_table_recovers_a_hand_set_interaction(contact_benefit):
    spec, data = contact_benefit
    names = list(data.term_names)
    beta = np.zeros(len(names))
    beta[names.index("clustered:extraversion")] = 1.0  # clustered helps the extravert
    shape = (1, 20)
    post = xr.Dataset({
        "beta": (("chain", "draw", "term"), np.broadcast_to(beta, (*shape, len(names)))),
        "thresholds": (("chain", "draw", "threshold"), np.broadcast_to([-1.0, 1.0],
                                                                      (*shape, 2))),
        "living_form_effect": (("chain", "draw", "living_form"), np.zeros((*shape, 7))),
        "sd_complex_id": (("chain", "draw"), np.zeros(shape)),
    }, coords={"term": names, "living_form": list(cb.FORM_CODES)})
    table = benefit_table(xr.DataTree.from_dict({"posterior": post}), spec, data)
    ext = table[table["moderator"] == "extraversion"].set_index("level")
    assert ext.loc["2", "mean"] < 0 < ext.loc["11", "mean"]  # isolated lose, open gain
    assert ext.loc["11 vs 2", "mean"] > 0 and ext.loc["11 vs 2", "p_positive"] == 1.0
    other = table[(table["moderator"] == "social_motive")]
    assert np.allclose(other["mean"], 0.0)  # no interaction there, no clustered advantage
