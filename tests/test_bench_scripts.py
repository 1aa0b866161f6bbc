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
