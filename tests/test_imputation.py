"""Multiple imputation of missing covariates: the chained equations, the pooling of the
imputations' draws, and the main job with ``--missing impute``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import run_models
from data.imputation import imputation_columns, impute
from data.loader import StudyData
from data.simulate import Design, simulate_survey
from data.suite import default_specs
from inference.imputation import pool_trees

MISSING = Design(n_tenants=400, n_complexes=70, covariate_missing=0.2)


@pytest.fixture(scope="module")
def incomplete():
    cx, tn, _, _ = simulate_survey(MISSING, seed=5)
    _, full, _, _ = simulate_survey(dataclasses.replace(MISSING, covariate_missing=0.0), seed=5)
    return cx, tn, StudyData(complexes=cx, tenants=tn).merged(), \
        StudyData(complexes=cx, tenants=full).merged()


@pytest.fixture(scope="module")
def imputed(incomplete):
    _, _, frame, _ = incomplete
    columns, auxiliary = imputation_columns(frame, default_specs().values())
    return columns, auxiliary, impute(frame, columns=columns, auxiliary=auxiliary, m=4, seed=1)


def test_imputations_fill_only_the_missing_cells_with_valid_codes(incomplete, imputed):
    _, _, frame, _ = incomplete
    columns, auxiliary, imps = imputed
    assert "extraversion" in columns and "age_group" not in columns  # age is never missing
    assert "lonely" in auxiliary and "contact" in auxiliary  # outcomes predict the covariates
    assert imps.m == 4 and set(imps.report["column"]) == set(columns)
    for c in columns:
        miss = frame[c].isna().to_numpy()
        observed = set(pd.to_numeric(frame[c]).dropna())
        values = [pd.to_numeric(f[c]).to_numpy(float) for f in imps.frames]
        for v in values:
            assert not np.isnan(v).any()
            np.testing.assert_array_equal(v[~miss], pd.to_numeric(frame[c])[~miss])
            assert set(v[miss]) <= observed  # predictive mean matching: observed values
        assert imps.report.set_index("column").loc[c, "n_missing"] == miss.sum()
    # the imputations differ (they carry the uncertainty), the outcomes stay as observed
    assert any((imps.frames[0][c] != imps.frames[1][c]).any() for c in columns)
    pd.testing.assert_series_equal(imps.frames[2]["contact"], frame["contact"])
    with pytest.raises(ValueError, match="no observed value"):
        impute(frame.assign(extraversion=np.nan), columns=["extraversion"],
               auxiliary=auxiliary, m=2)


def test_imputed_values_follow_the_outcomes(incomplete, imputed):
    """With the outcomes in the imputation models, an imputed covariate keeps its relation
    to them: extraversion imputed for those with daily contact is higher on average, as
    in the complete data (imputing from the covariates alone would flatten it)."""
    _, _, frame, full = incomplete
    imps = imputed[2]
    miss = frame["extraversion"].isna().to_numpy()
    daily = (frame["contact"] == 3).to_numpy()
    gap = np.mean([f["extraversion"].to_numpy(float)[miss & daily].mean()
                   - f["extraversion"].to_numpy(float)[miss & ~daily].mean()
                   for f in imps.frames])
    true_gap = full["extraversion"].to_numpy(float)[daily].mean() - \
        full["extraversion"].to_numpy(float)[~daily].mean()
    assert true_gap > 0.3 and gap > 0.3 * true_gap


def _tree(seed: int, chains: int = 2, draws: int = 5) -> xr.DataTree:
    rng = np.random.default_rng(seed)
    post = xr.Dataset({"beta": (("chain", "draw", "term"), rng.normal(size=(chains, draws, 3))),
                       "sd": (("chain", "draw"), rng.gamma(2, size=(chains, draws)))},
                      coords={"chain": np.arange(chains), "draw": np.arange(draws),
                              "term": ["a", "b", "c"]})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))},
                       coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_pooled_draws_are_the_concatenated_imputations():
    trees = [_tree(k) for k in range(3)]
    pooled = pool_trees(trees)
    assert pooled.attrs["imputations"] == 3 and pooled.attrs["chains_per_imputation"] == 2
    assert list(pooled["posterior"]["chain"].values) == list(range(6))
    for name in ("beta", "sd"):
        np.testing.assert_array_equal(
            pooled["posterior"][name].values,
            np.concatenate([t["posterior"][name].values for t in trees], axis=0))
    assert pooled["sample_stats"]["diverging"].shape == (6, 5)


def test_cli_imputes_fits_every_imputation_and_pools(incomplete, tmp_path):
    cx, tn, frame, _ = incomplete
    data = tmp_path / "data"
    data.mkdir()
    cx.to_csv(data / "complexes.csv", index=False)
    tn.to_csv(data / "tenants.csv", index=False)
    out = tmp_path / "run"
    argv = ["--data", str(data), "--outcomes", "gossip", "--imputations", "2", "--draws", "60",
            "--tune", "80", "--chains", "2", "--out", str(out)]
    assert run_models.main(argv) in (0, 1)
    per = pd.read_csv(out / "imputation.csv")
    assert list(per["imputation"].astype(str)) == ["1", "2", "pooled"]
    assert (out / "fits" / "gossip" / "imputation_2.nc").exists()
    missing = pd.read_csv(out / "missing.csv")
    imputed = missing[missing["action"] == "imputed (m=2)"]
    assert {"extraversion", "financial_vulnerability"} <= set(imputed["variable"])
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n_chains"] == 4).all() if "n_chains" in summary else True
    # every tenant with an answer is analysed: no row removed for a missing covariate
    removed = missing[(missing["action"] == "rows removed") & (missing["model"] == "gossip")]
    assert removed["n_after"].iloc[0] == frame["gossip"].notna().sum()
    effects = pd.read_csv(out / "effects.csv")
    prob = effects[effects["scale"] == "probability"]
    assert len(prob) and (prob["n_draws"] >= 100).all()  # both imputations' draws pooled
