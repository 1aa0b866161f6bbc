"""``--sampler numpyro``: NumPyro's NUTS (JAX) through the same engine and models.

JAX and NumPyro are an optional extra (``uv sync --extra jax``); without them the choice
is refused with the command that installs them. The fit test runs where the extra is
installed (``uv sync --extra jax && uv run pytest tests/test_numpyro.py``).
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

import run_models
from data.config import StudyConfig
from data.suite import default_specs
from inference.engine import Engine, SamplerSettings, jax_available
from workflows.setup import WorkflowError, sampler_settings


def test_numpyro_without_the_jax_extra_is_refused_with_the_install_command(monkeypatch,
                                                                           capsys):
    monkeypatch.setattr("inference.engine.jax_available", lambda: False)
    with pytest.raises(ValueError, match=r"uv sync --extra jax"):
        SamplerSettings(sampler="numpyro")
    with pytest.raises(WorkflowError, match=r"sampler settings: .*uv sync --extra jax"):
        sampler_settings(argparse.Namespace(sampler="numpyro"), StudyConfig())
    rc = run_models.main(["fit", "--sampler", "numpyro", "--outcomes", "gossip", "--quick"])
    assert rc == 2 and "uv sync --extra jax" in capsys.readouterr().err


def test_xla_gets_a_device_per_default_chain_unless_the_user_chose(monkeypatch):
    from inference.cache import JAX_HOST_DEVICES, jax_host_devices

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_thunk_runtime=false")
    flags = jax_host_devices()
    assert flags.endswith(f"--xla_force_host_platform_device_count="
                          f"{max(JAX_HOST_DEVICES, __import__('os').cpu_count())}")
    assert flags.startswith("--xla_cpu_use_thunk_runtime=false")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert jax_host_devices() == "--xla_force_host_platform_device_count=2"


@pytest.mark.skipif(not jax_available(), reason="the optional jax extra is not installed")
def test_numpyro_fits_the_same_model_as_nutpie(small_frame, tmp_path, monkeypatch):
    """Same spec and data, both samplers: the same posterior within Monte Carlo error, the
    same variables and coordinates, NumPyro's chains one per XLA device (parallel), and a
    seed that pins its draws; XLA's executables land in the project's JAX cache."""
    import jax

    from inference import cache
    from models.design import prepare

    monkeypatch.setattr(cache, "JAX_CACHE_DIR", tmp_path / "jax")
    if not jax.config.jax_compilation_cache_dir:
        assert cache.use_jax_cache(tmp_path / "jax") == tmp_path / "jax"
    spec = default_specs()["gossip"]
    data = prepare(small_frame, spec)
    engine = Engine()
    fits = {s: engine.fit(spec, data, SamplerSettings(sampler=s, chains=2, draws=400,
                                                      tune=400, seed=5, predictive=False))
            for s in ("numpyro", "nutpie")}
    again = engine.fit(spec, data, SamplerSettings(sampler="numpyro", chains=2, draws=400,
                                                   tune=400, seed=5, predictive=False))
    a, b = (fits[s]["posterior"].to_dataset() for s in ("numpyro", "nutpie"))
    assert set(a.data_vars) == set(b.data_vars) and dict(a.sizes) == dict(b.sizes)
    assert a["living_form"].values.tolist() == b["living_form"].values.tolist()
    for var in ("intercept", "living_form_contrast", "sd_complex_id"):
        x, y = a[var].values, b[var].values
        se = np.sqrt(x.var(axis=(0, 1)) / 100 + y.var(axis=(0, 1)) / 100)  # ESS >= 100
        assert np.all(np.abs(x.mean(axis=(0, 1)) - y.mean(axis=(0, 1))) < 4 * se), var
    assert int(fits["numpyro"]["sample_stats"]["diverging"].sum()) <= 4
    assert np.array_equal(again["posterior"]["intercept"].values, a["intercept"].values)
    assert jax.local_device_count() >= 2
