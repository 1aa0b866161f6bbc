"""Saved fits: compact per-row groups; the phase clock's memory."""

from __future__ import annotations

import numpy as np
import xarray as xr

from inference.store import compact, load_fit, save_fit
from workflows.timing import PhaseClock


def _tree(rng) -> xr.DataTree:
    dims = ("chain", "draw", "row")
    shape = (2, 50, 30)
    return xr.DataTree.from_dict({
        "posterior": xr.Dataset({"beta": (("chain", "draw"), rng.normal(size=(2, 50)))}),
        "posterior_predictive": xr.Dataset({
            "y": (dims, rng.integers(0, 5, shape).astype(float)),
            "counts": (dims, rng.integers(0, 300, shape)),
            "score": (dims, rng.normal(size=shape))}),
        "log_likelihood": xr.Dataset({"y": (dims, rng.normal(size=shape))}),
    })


def test_compact_keeps_every_value_in_a_smaller_type(tmp_path):
    rng = np.random.default_rng(0)
    tree = _tree(rng)
    before = {g: {k: v.values.copy() for k, v in tree[g].dataset.data_vars.items()}
              for g in ("posterior_predictive", "log_likelihood")}
    compact(tree)
    pp, ll = tree["posterior_predictive"], tree["log_likelihood"]
    assert pp["y"].dtype == np.int8 and pp["counts"].dtype == np.int16
    assert pp["score"].dtype == np.float64  # a Gaussian replicate is not rounded
    assert ll["y"].dtype == np.float32 and tree["posterior"]["beta"].dtype == np.float64
    for name, values in before["posterior_predictive"].items():
        np.testing.assert_array_equal(pp[name].values, values)
    np.testing.assert_allclose(ll["y"].values, before["log_likelihood"]["y"], rtol=1e-6)
    # what is saved is what is loaded back
    keys = {"spec_json": "{}", "data_hash": "d", "settings_json": "{}"}
    saved = save_fit(_tree(np.random.default_rng(1)), tmp_path / "fit.nc", **keys)
    loaded = load_fit(tmp_path / "fit.nc", **keys)
    assert loaded["posterior_predictive"]["y"].dtype == np.int8
    np.testing.assert_array_equal(loaded["posterior_predictive"]["y"].values,
                                  saved["posterior_predictive"]["y"].values)


def test_phase_clock_records_each_phases_peak_memory():
    clock = PhaseClock()
    with clock("big"):
        block = np.ones(40_000_000)  # 320 MB
        block[::1000] = 2.0
        del block
    with clock("small"):
        pass
    assert clock.peak_mb["big"] > clock.peak_mb["small"] + 200
    # the kernel's peak and the sampled one count pages alike (within a few percent)
    assert clock.peak_total_mb >= 0.95 * clock.peak_mb["big"]
    assert set(clock.seconds) == {"big", "small"}
