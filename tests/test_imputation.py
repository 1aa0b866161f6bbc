"""Multiple imputation of missing covariates: the chained equations, the pooling of the
imputations' draws, and the main job with ``--missing impute``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import run_models
from data.imputation import (
    M_CAP,
    M_FLOOR,
    by_design,
    imputation_columns,
    imputation_count,
    imputation_inputs,
    impute,
    lag1_autocorrelation,
)
from data.loader import StudyData
from data.simulate import Design, simulate_survey
from data.suite import default_specs
from inference.imputation import fraction_missing_information, imputation_table, pool_trees

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
    return columns, auxiliary, impute(frame, **imputation_inputs(frame, default_specs().values()),
                                      m=4, seed=1, burn_in=5)


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
    table = pd.read_csv(out / "imputation.csv")
    per = table[table["block"] == "convergence"]
    assert list(per["imputation"].astype(str)) == ["1", "2", "pooled"]
    settings = table[table["block"] == "settings"].set_index("setting")["value"]
    assert settings["m"] == "2" and settings["m_rule"] == "set by the caller"
    assert settings["form"] == "living_form" and settings["cluster"] == "complex_id"
    fmi = table[table["block"] == "fmi"]
    assert set(fmi["contrast"]) >= {"RO - HZ"} and set(fmi["model"]) == {"gossip"}
    assert fmi["fmi"].between(0, 1).all()
    assert "Fraction of missing information" in (out / "report.html").read_text()
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


def _form_world(seed: int = 2, n_complex: int = 90) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A covariate that depends on the form only (share 0.1, 0.5, 0.9), missing at random
    given the form (mostly in the third), beside an outcome that knows nothing of it."""
    rng = np.random.default_rng(seed)
    form = np.repeat(np.arange(n_complex) % 3, 8)
    complex_id = np.repeat(np.arange(n_complex), 8)
    x = (rng.random(len(form)) < np.array([0.1, 0.5, 0.9])[form]).astype(float)
    y = rng.normal(size=len(form))
    full = pd.DataFrame({"complex_id": complex_id, "living_form": np.array(["A", "B", "C"])[form],
                         "x": x, "y": y, "z": rng.normal(size=len(form))})
    frame = full.copy()
    frame.loc[rng.random(len(form)) < np.array([0.1, 0.2, 0.6])[form], "x"] = np.nan
    return frame, full


def test_the_form_and_complex_means_are_predictors():
    """A covariate that differs by form only is imputed with each form's share when the
    form is among the predictors; without it, every form's missing cells get the pooled
    share (the form effect on it shrinks towards 0: the analysis model's form contrast is
    then biased)."""
    frame, full = _form_world()
    miss = frame["x"].isna().to_numpy()
    forms = frame["living_form"].to_numpy()
    kw = {"columns": ["x"], "auxiliary": ["y", "z"], "m": 6, "seed": 3, "burn_in": 5}
    congenial = impute(frame, **kw, form="living_form", cluster="complex_id")
    blind = impute(frame, **kw)
    assert congenial.settings["complex_means"] >= 1  # the complex means are predictors

    def error(imps):
        got = {f: np.mean([d["x"].to_numpy(float)[miss & (forms == f)].mean()
                           for d in imps.frames]) for f in "ABC"}
        return max(abs(got[f] - share) for f, share in zip("ABC", (0.1, 0.5, 0.9),
                                                             strict=True))
    assert error(congenial) < 0.1, error(congenial)
    assert error(blind) > 0.2, error(blind)  # without the form: the pooled share


def test_complex_means_follow_the_complex():
    """A covariate that is a complex trait (the same for most residents) is imputed from
    the fellow residents' values through the complex means."""
    rng = np.random.default_rng(4)
    complex_id = np.repeat(np.arange(120), 6)
    trait = rng.random(120) < 0.5
    x = np.where(rng.random(len(complex_id)) < 0.9, trait[complex_id], ~trait[complex_id])
    frame = pd.DataFrame({"complex_id": complex_id, "x": x.astype(float),
                          "y": rng.normal(size=len(x))})
    frame.loc[rng.random(len(x)) < 0.3, "x"] = np.nan
    miss = frame["x"].isna().to_numpy()
    kw = {"columns": ["x"], "auxiliary": ["y"], "m": 4, "seed": 1, "burn_in": 5}
    agree = {}
    for name, extra in (("means", {"cluster": "complex_id"}), ("none", {})):
        imps = impute(frame, **kw, **extra)
        agree[name] = np.mean([(d["x"].to_numpy(float)[miss] == x[miss]).mean()
                               for d in imps.frames])
    assert agree["means"] > 0.75 and agree["none"] < 0.6, agree


def _sticky_frame(seed: int = 3, n: int = 300) -> pd.DataFrame:
    """Three nearly collinear covariates missing together in half the rows: the chained
    equations move slowly there, so successive cycles of one chain are alike."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    frame = pd.DataFrame({f"x{j}": z + 0.05 * rng.normal(size=n) for j in range(3)})
    frame["y"] = 0.3 * z + rng.normal(size=n)
    joint = rng.random(n) < 0.5
    for j in range(3):
        frame.loc[joint | (rng.random(n) < 0.1), f"x{j}"] = np.nan
    return frame


def _one_chain_means(frame: pd.DataFrame, *, m: int, spacing: int) -> list[float]:
    """The imputed means of one statsmodels chain sampled every ``spacing`` cycles (how
    the imputations were drawn before): the mean over the columns of each imputation."""
    import warnings

    from statsmodels.imputation.mice import MICEData

    data = frame.copy()
    data.columns = [f"v{j}" for j in range(data.shape[1])]
    cols = ["v0", "v1", "v2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mice = MICEData(data, k_pmm=20, rng=np.random.default_rng(1))
        mice.update_all(5)
        out = []
        for k in range(m):
            if k:
                mice.update_all(spacing)
            out.append([mice.data[c].to_numpy()[data[c].isna().to_numpy()].mean()
                        for c in cols])
    return np.array(out)


def test_imputations_are_independent_chains():
    """Lag-1 autocorrelation of the imputed means across imputations: near 0 for separate
    chains; one chain sampled every 2 cycles fails the same tolerance."""
    frame = _sticky_frame()
    m, tolerance = 40, 0.3
    imps = impute(frame, columns=["x0", "x1", "x2"], auxiliary=["y"], m=m, seed=1, burn_in=8)
    ac = imps.report["lag1_autocorrelation"].to_numpy()
    assert np.abs(ac).mean() < tolerance, ac
    chain = _one_chain_means(frame, m=m, spacing=2)
    old = np.array([lag1_autocorrelation(chain[:, j]) for j in range(3)])
    assert old.mean() > tolerance, old
    assert imps.settings["chains"] == f"one per imputation ({m})"


def test_lag1_autocorrelation():
    assert lag1_autocorrelation(np.arange(10.0)) > 0.5
    assert lag1_autocorrelation(np.tile([1.0, -1.0], 10)) < -0.8
    assert np.isnan(lag1_autocorrelation([1.0, 2.0]))


def test_number_of_imputations_by_the_fraction_of_incomplete_rows():
    assert imputation_count(0.0) == M_FLOOR == 5
    assert imputation_count(0.04) == 5 and imputation_count(0.123) == 13
    assert imputation_count(0.2) == 20 and imputation_count(0.86) == M_CAP == 40
    assert imputation_count(0.3, cap=20) == 20
    with pytest.raises(ValueError):
        imputation_count(1.2)
    frame, _ = _form_world()
    imps = impute(frame, columns=["x"], auxiliary=["y"], burn_in=2)  # m by the rule
    share = frame["x"].isna().mean()
    assert imps.m == imputation_count(share) and imps.settings["fraction_incomplete"] == share
    assert "ceil(100 x" in imps.settings["m_rule"]


def test_cells_missing_by_design_stay_missing(incomplete):
    """Friendly contact is asked where contact is at least regular: elsewhere it is never
    imputed (it stays missing, and as a predictor it holds a constant beside an indicator),
    while a covariate asked of nobody in a group stays missing there too."""
    _, _, frame, _ = incomplete
    assert by_design(frame) == {"friendly_contact": "contact >= 2"}
    frame = frame.copy()
    rng = np.random.default_rng(0)
    # friendly contact also missing among some of those asked, and a covariate asked only
    # of the clustered forms' tenants (a made-up design gap)
    asked = (frame["contact"] >= 2).fillna(False).to_numpy()
    frame.loc[asked & (rng.random(len(frame)) < 0.1), "friendly_contact"] = np.nan
    gate = frame["living_form"].isin(["RB", "RG"]).to_numpy()
    frame["norm_q"] = pd.array(np.where(gate, rng.integers(0, 2, len(frame)), 0), "Int64")
    frame.loc[~gate | (rng.random(len(frame)) < 0.2), "norm_q"] = pd.NA
    structural = {"friendly_contact": "contact >= 2",
                  "norm_q": "living_form in ['RB', 'RG']"}
    kw = imputation_inputs(frame, default_specs().values())
    imps = impute(frame, **{**kw, "columns": [*kw["columns"], "norm_q"],
                            "structural": structural}, m=2, seed=4, burn_in=3)
    by = imps.structural.set_index("column")
    assert by.loc["friendly_contact", "n_not_asked"] == (frame["contact"] == 1).sum()
    assert by.loc["norm_q", "n_not_asked"] == (~gate).sum()
    for done in imps.frames:
        # outcomes as observed; the design gap of a covariate never filled
        pd.testing.assert_series_equal(done["friendly_contact"], frame["friendly_contact"])
        assert done["norm_q"][~gate].isna().all()
        assert done["norm_q"][gate].notna().all()  # missing among those asked: imputed
        assert set(done["norm_q"][gate].astype(int)) <= {0, 1}
    assert "friendly_contact: asked when contact >= 2" in imps.settings["missing_by_design"]


def test_fraction_of_missing_information_by_rubins_rules():
    """Synthetic draws with known within (W = 4) and between (B = 1) variance: Rubin's
    T = W + (1 + 1/m) B and FMI = (1 + 1/m) B / T."""
    rng = np.random.default_rng(0)
    m, n = 20, 4000
    centres = rng.normal(0, 1, m)
    centres = (centres - centres.mean()) / centres.std(ddof=1)  # exactly B = 1
    draws = np.concatenate([c + 2 * rng.standard_normal(n) for c in centres])
    label = np.repeat(np.arange(m), n)
    out = fraction_missing_information(draws, label)
    expected = (1 + 1 / m) * 1 / (4 + (1 + 1 / m) * 1)
    assert out["m"] == m
    assert out["within_var"] == pytest.approx(4, rel=0.02)
    assert out["between_var"] == pytest.approx(1, rel=0.05)
    assert out["total_var"] == pytest.approx(4 + 1.05, rel=0.03)
    assert out["fmi"] == pytest.approx(expected, abs=0.01)
    assert out["m_needed"] == int(np.ceil(100 * out["fmi"]))
    # no between-imputation variance beyond the Monte Carlo noise: FMI 0
    same = fraction_missing_information(2 * rng.standard_normal(m * 50), np.repeat(
        np.arange(m), 50))
    assert same["fmi"] < 0.05
    assert np.isnan(fraction_missing_information(draws[:n], label[:n])["fmi"])  # one imputation


def test_imputation_table_blocks(imputed):
    imps = imputed[2]
    fmi = pd.DataFrame([{"model": "a", "outcome": "a", "contrast": "RO - HZ",
                         **fraction_missing_information(np.arange(20.0), np.repeat([0, 1], 10))}])
    per = pd.DataFrame([{"model": "a", "imputation": "1", "verdict": "ok"}])
    table = imputation_table([per], imps, fmi)
    assert table.columns[0] == "block"
    assert list(dict.fromkeys(table["block"])) == ["settings", "missing by design",
                                                    "convergence", "fmi"]
    settings = table[table["block"] == "settings"].set_index("setting")["value"]
    assert settings["m"] == "4" and settings["burn_in"] == "5"


def test_delta_adjustment_moves_only_the_imputed_cells():
    """van Buuren's delta-adjustment: a numeric covariate's imputed values move by delta SDs,
    a 0/1 covariate's are redrawn delta log-odds more likely to be 1; observed cells stay."""
    from data.imputation import delta_adjusted, impute

    rng = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame({"x": rng.normal(5, 2, n), "b": rng.integers(0, 2, n).astype(float),
                          "y": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.3, "x"] = np.nan
    frame.loc[rng.random(n) < 0.3, "b"] = np.nan
    imps = impute(frame, columns=["x", "b"], auxiliary=["y"], m=4, seed=1)
    for column in ("x", "b"):
        miss = frame[column].isna().to_numpy()
        zero = delta_adjusted(imps, frame, column, 0.0)
        for a, b in zip(zero.frames, imps.frames, strict=True):
            pd.testing.assert_frame_equal(a, b, check_dtype=False)
        up = delta_adjusted(imps, frame, column, 1.0, seed=2)
        for a, b in zip(up.frames, imps.frames, strict=True):
            np.testing.assert_array_equal(a.loc[~miss, column].to_numpy(float),
                                          b.loc[~miss, column].to_numpy(float))
            other = "b" if column == "x" else "x"
            np.testing.assert_array_equal(a[other].to_numpy(float), b[other].to_numpy(float))
        moved = np.mean([f.loc[miss, column].mean() for f in up.frames])
        before = np.mean([f.loc[miss, column].mean() for f in imps.frames])
        if column == "x":
            assert moved - before == pytest.approx(frame["x"].std(), rel=1e-6)
        else:
            assert moved > before + 0.1  # one log-odds more likely to be 1
        assert "delta" in up.settings
    with pytest.raises(ValueError, match="was not imputed"):
        delta_adjusted(imps, frame, "y", 1.0)
