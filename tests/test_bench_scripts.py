"""The benchmark scripts still import: they are run by hand, rarely, and a module moved
elsewhere breaks them silently (``bench_suite.py`` imported ``default_specs`` from
``models.spec`` after it had moved to ``data.suite``, and failed at its first line)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_imports_and_has_a_main(script):
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # runs the imports, not the benchmark
    assert callable(getattr(module, "main", None)), f"{script} has no main()"
