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


def test_bench_verdicts_counts_false_verdicts_against_the_truth():
    """bench_verdicts.py: a claim is false where its true contrast is zero or the other
    sign; rates count false "supported" per false claim with exact intervals."""
    import pandas as pd

    from bench.bench_verdicts import clopper_pearson, directional_rows, rates

    assert clopper_pearson(0, 84)[1] == pytest.approx(1 - 0.025 ** (1 / 84))
    lo, hi = clopper_pearson(3, 10)
    assert lo < 0.3 < hi
    truth = {"outcomes": {"contact": {"form_effects": {"GG": 1.0, "HZ": 0.0, "LZ": 0.0},
                                      "coefficients": {"rural": 0.4}}}}
    findings = pd.DataFrame([
        {"outcome": "contact", "claim_type": c, "kind": k, "parameter": p, "expected": "+",
         "verdict": v}
        for c, k, p, v in (("directional", "contrast", "GG - HZ", "supported"),
                           ("directional", "contrast", "LZ - HZ", "supported"),
                           ("joint", "joint", "GG - HZ & LZ - HZ", "uncertain"),
                           ("directional", "beta", "rural", "supported"))])
    rows = directional_rows(findings, truth)
    assert rows["true_claim"].tolist() == [True, False, False, True]
    assert rows["form_claim"].tolist() == [True, True, True, False]
    rows = rows.assign(world="w", seed=1, published=True)
    eq = pd.DataFrame([{"world": "w", "seed": 1, "claim_type": "equivalence",
                        "verdict": "equivalent", "true_claim": False, "form_claim": True,
                        "published": True}])
    out = rates(pd.concat([rows, eq], ignore_index=True)).set_index(
        ["world", "claims", "rate"])
    first = out.loc[("w", "published", "false supported / false form claims")]
    assert (first["k"], first["n"]) == (1, 2)
    among = out.loc[("w", "published", "false among supported form verdicts")]
    assert (among["k"], among["n"]) == (1, 2)
    assert out.loc[("w", "published", "false among equivalent verdicts"), "k"] == 1
    assert out.loc[("w", "rule check", "false supported / false form claims"), "n"] == 0


def test_bench_scale_fits_the_growth_exponent_and_judges_the_targets():
    """bench_scale.py: b of time ~ n^b by log-log least squares over the sizes fitted (a
    skipped size is left out); the 60,000-tenant target is judged on a cumulative model's
    verdict and total time; its sampler settings are the default run's."""
    import pandas as pd

    from bench.bench_scale import default_settings, exponents, growth_exponent, targets

    n = [3000, 15000, 60000]
    assert growth_exponent(n, [2.0 * x ** 1.3 for x in n]) == pytest.approx(1.3)
    assert growth_exponent([3000], [10.0]) != growth_exponent([3000], [10.0])  # NaN
    table = pd.DataFrame([
        {"n_tenants": 3000, "model": "contact", "sample_s": 30.0, "total_s": 60.0,
         "verdict": "ok"},
        {"n_tenants": 15000, "model": "contact", "sample_s": 150.0, "total_s": 300.0,
         "verdict": "ok"},
        {"n_tenants": 60000, "model": "contact", "sample_s": 600.0, "total_s": 1200.0,
         "verdict": "ok"},
        {"n_tenants": 3000, "model": "lonely", "sample_s": 10.0, "total_s": 20.0,
         "verdict": "ok"},
        {"n_tenants": 15000, "model": "lonely", "sample_s": None, "total_s": None,
         "verdict": None}])
    exps = exponents(table).set_index("model")
    assert exps.loc["contact", "b_total"] == pytest.approx(1.0)
    assert exps.loc["contact", "sizes"] == "3000,15000,60000"
    assert exps.loc["lonely", "sizes"] == "3000"
    lines = targets(table, exps.reset_index(), {"contact": "cumulative",
                                                 "lonely": "bernoulli"})
    assert "contact: ok in 20.0 min -- target MISSED" in lines[0]
    assert any("n^1.00" in line and "met" in line for line in lines)
    assert "not measured" in targets(table[table.n_tenants < 60000], exps.reset_index(),
                                     {"contact": "cumulative"})[0]
    settings = default_settings()
    assert settings.top_up > 0 and settings.draws < 1000  # draws by target, as run_models.py
