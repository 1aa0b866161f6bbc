"""Real public data through the config path: the models people fit first, and published
estimates reproduced.

The data sets, their sources and licences are listed in ``tests/data/README.md``. The fast
tests check the pieces a real data set needs (text categories, crossed levels, binomial
trials, varying slopes, column names the builder uses itself, the centring rule, seeds);
the ``slow`` tests fit every data set through ``run_models.py --config`` and compare with
the published fit (``pytest -m slow tests/test_public_data.py``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run_models
from data.config import load_config
from data.loader import read_table
from models.build import build_model, centred_on_parent
from models.design import PreparationError, group_reliability, prepare
from models.spec import ModelSpec, parse_terms, specs_from_config

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def _spec_and_frame(name: str, outcome: str | None = None, **overrides):
    cfg = load_config(DATA / f"{name}.toml")
    frame = read_table(cfg.table)
    specs = specs_from_config(cfg, columns=set(frame.columns))
    spec = specs[outcome or next(iter(specs))]
    return (spec.with_(**overrides) if overrides else spec), frame


# --------------------------------------------------------------------------------------
# text categories
# --------------------------------------------------------------------------------------
def test_text_categories_are_coded_against_the_first_sorted_level():
    spec, frame = _spec_and_frame("wine")
    data = prepare(frame, spec)
    assert data.term_names == ("temp[warm]", "contact[yes]")
    warm = (frame["temp"] == "warm").to_numpy(dtype=float)
    np.testing.assert_array_equal(data.X[:, 0], warm)
    assert data.categories == (1, 2, 3, 4, 5)  # read from the data as whole numbers


def test_a_named_reference_level_comes_first():
    spec, frame = _spec_and_frame("wine")
    terms = parse_terms('C(temp, ref="warm") + C(contact, ref=yes)', known=set(frame.columns))
    data = prepare(frame, spec.with_(terms=terms))
    assert data.term_names == ("temp[cold]", "contact[no]")
    with pytest.raises(PreparationError, match=r"reference 'tepid' is not a level of 'temp'; "
                                               r"levels: \['cold', 'warm'\]"):
        prepare(frame, spec.with_(terms=parse_terms('C(temp, ref="tepid")',
                                                    known={"temp"})))


def test_text_in_a_numeric_term_names_row_and_hints_at_C():
    spec, frame = _spec_and_frame("wine")
    with pytest.raises(PreparationError) as err:
        prepare(frame, spec.with_(terms=parse_terms("temp", known={"temp"})))
    text = str(err.value)
    assert "column 'temp', row 1: value 'cold' is not a number" in text
    assert "hint: column 'temp' holds text ('cold', 'warm'): as a term write C(temp)" in text
    assert "Unnamed" not in text


# --------------------------------------------------------------------------------------
# nested and crossed levels
# --------------------------------------------------------------------------------------
def test_nested_labels_are_made_unique_and_crossed_ones_kept():
    spec, frame = _spec_and_frame("pastes")
    data = prepare(frame, spec)
    assert len(data.level_labels["cask"]) == 30  # a, b, c in each of 10 batches
    assert len(data.level_labels["batch"]) == 10
    # each cask's parent batch, as the labels say
    casks = np.asarray(data.level_labels["cask"])
    parents = np.asarray(data.level_labels["batch"])[data.parent_idx["cask"]]
    assert all(c.startswith(f"{p}/") for c, p in zip(casks, parents, strict=True))
    spec, frame = _spec_and_frame("penicillin")
    assert spec.nested is False
    data = prepare(frame, spec)
    assert len(data.level_labels["plate"]) == 24 and len(data.level_labels["sample"]) == 6
    assert data.parent_idx == {}
    nested = prepare(frame, spec.with_(nested=True))  # the wrong reading: 144 "plates"
    assert len(nested.level_labels["plate"]) == 144


# --------------------------------------------------------------------------------------
# names the builder uses itself
# --------------------------------------------------------------------------------------
def test_columns_named_like_internal_dims_are_kept_apart(tmp_path):
    """``obs``, ``term`` and ``item`` as grouping columns and a term: the model builds,
    samples, and every output is written."""
    _, frame = _spec_and_frame("cbpp")
    frame = frame.rename(columns={"herd": "obs", "period": "term"})
    frame["item"] = np.arange(len(frame)) % 3
    frame.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "t.toml").write_text(
        '[data]\ntable = "t.csv"\n[sampler]\ndraws = 150\ntune = 200\nchains = 2\n'
        '[[outcomes]]\nname = "incidence"\nresponse = "incidence"\ntrials = "size"\n'
        'family = "binomial"\nterms = "item"\nlevels = ["obs", "term"]\n'
        'nested = false\nfocal = "term"\nreference = "1"\n')
    cfg = load_config(tmp_path / "t.toml")
    spec = specs_from_config(cfg, columns=set(frame.columns))["incidence"]
    assert spec.level_key("obs") == "obs_level" and spec.level_key("term") == "term_level"
    model = build_model(spec, prepare(read_table(cfg.table), spec))
    assert len(model.coords["obs"]) == len(frame)  # rows, not herds
    assert len(model.coords["obs_level"]) == 15 and "term_level_contrast" in model.named_vars
    rc = run_models.main(["--config", str(tmp_path / "t.toml"), "--out", str(tmp_path / "r")])
    assert rc in (0, 1)  # finished (1: a convergence verdict at these few draws)
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert {"sd_obs_level", "beta[item]", "term_level_contrast[2 - 1]"} <= \
        set(summary["parameter"])
    effects = pd.read_csv(tmp_path / "r" / "effects.csv")
    assert (effects["scale"] == "probability").any()


def test_a_level_named_like_a_family_variable_is_renamed():
    spec = ModelSpec(name="m", outcome="m", response="y", family="graded",
                     items=("a", "b"), categories=(1, 2, 3), levels=("tenant",))
    assert spec.level_key("tenant") == "tenant_level"  # the graded family's sd_tenant
    assert ModelSpec(name="m", outcome="m", response="y", family="gaussian",
                     levels=("tenant",)).level_key("tenant") == "tenant"


# --------------------------------------------------------------------------------------
# centred or non-centred, per level
# --------------------------------------------------------------------------------------
def test_group_reliability_separates_informative_from_weak_groups():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 10)
    strong = rng.normal(0, 3, 40)[groups] + rng.normal(0, 1, 400)  # 10 * 9 / (90 + 1)
    weak = rng.normal(0, 0.1, 40)[groups] + rng.normal(0, 1, 400)  # 10 * .01 / (.1 + 1)
    assert group_reliability(strong, groups) > 0.95
    assert group_reliability(weak, groups) < 0.3
    assert group_reliability(strong, np.arange(400)) == 0.0  # one row per group


def test_parametrisation_rule_and_override():
    spec, frame = _spec_and_frame("sleepstudy")
    data = prepare(frame.assign(Days=frame["Days"]), spec.with_(slopes=()))
    ((level, how, rel),) = data.parametrisation
    assert level == "Subject" and how == "centered" and rel > 0.75  # informative subjects
    ((level, how, _),) = prepare(frame, spec).parametrisation
    assert how == "noncentered"  # ... but varying slopes are always non-centred
    with pytest.raises(ValueError, match="always non-centred"):
        spec.with_(parametrisation=("Subject=centered",))
    spec, frame = _spec_and_frame("pastes")
    data = prepare(frame, spec)
    choice = {lv: how for lv, how, _ in data.parametrisation}
    # casks are well measured (reliability ~0.97) but nested in batches: non-centred
    assert choice == {"cask": "noncentered", "batch": "noncentered"}
    forced = spec.with_(parametrisation=("cask=centered",))
    data = prepare(frame, forced)
    assert {lv: how for lv, how, _ in data.parametrisation}["cask"] == "centered"
    assert centred_on_parent(forced, data) == {"cask": "batch"}  # hierarchical centring
    model = build_model(forced, data)
    assert "parent_cask" in model.named_vars
    with pytest.raises(ValueError, match="parametrisation 'batch=sideways'"):
        spec.with_(parametrisation=("batch=sideways",))


def test_housing_complexes_stay_non_centred(small_frame):
    from data.suite import default_specs

    spec = default_specs()["contact"]
    data = prepare(small_frame, spec)
    ((level, how, rel),) = data.parametrisation
    assert level == "complex_id" and how == "noncentered" and rel < 0.75


# --------------------------------------------------------------------------------------
# varying slopes
# --------------------------------------------------------------------------------------
def test_varying_slopes_model_and_new_group_sd():
    from diagnostics.effects import random_sd

    spec, frame = _spec_and_frame("sleepstudy")
    assert spec.slopes == ("Days|Subject",)
    data = prepare(frame, spec)
    model = build_model(spec, data)
    assert list(model.coords["coef_Subject"]) == ["Intercept", "Days"]
    assert list(model.coords["pair_Subject"]) == ["Intercept, Days"]
    assert {"sd_Subject", "corr_Subject"} <= {v.name for v in model.deterministics}
    # a new subject's SD on row i: sqrt(s0^2 + 2 r s0 s1 x_i + s1^2 x_i^2)
    sd, corr = np.array([[20.0, 5.0]]), np.array([[0.3]])
    got = random_sd(spec, lambda name: {"sd_Subject": sd, "corr_Subject": corr}[name],
                    data.X, data)
    x = data.X[:, 0]
    expected = np.sqrt(400 + 2 * 0.3 * 20 * 5 * x + 25 * x**2)
    np.testing.assert_allclose(got[:, 0], expected)
    with pytest.raises(ValueError, match=r"slope 'age\|Subject' must be 'term\|level'"):
        spec.with_(slopes=("age|Subject",))


# --------------------------------------------------------------------------------------
# binomial with trials
# --------------------------------------------------------------------------------------
def test_binomial_reads_trials_and_names_impossible_rows(tmp_path):
    spec, frame = _spec_and_frame("cbpp")
    data = prepare(frame, spec)
    np.testing.assert_array_equal(data.trials, frame["size"].astype(int).to_numpy())
    np.testing.assert_array_equal(data.y, frame["incidence"].astype(int).to_numpy())
    bad = frame.copy()
    bad.loc[3, "incidence"] = "99"
    with pytest.raises(PreparationError, match=r"1 row\(s\) have more successes"):
        prepare(bad, spec)


# --------------------------------------------------------------------------------------
# whole runs through the command line
# --------------------------------------------------------------------------------------
def test_no_focal_level_cumulative_run_writes_everything(tmp_path):
    rc = run_models.main(["--config", str(DATA / "wine.toml"), "--quick",
                          "--out", str(tmp_path)])
    assert rc in (0, 1)
    for name in ("summary.csv", "diagnostics.csv", "ppc.csv", "loo.csv", "report.html",
                 "run.json"):
        assert (tmp_path / name).exists(), name
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"beta[temp[warm]]", "beta[contact[yes]]", "thresholds[1|2]", "sd_judge"} <= \
        set(summary["parameter"])
    # embedded figures and CSV downloads are base64: any letters may occur in them
    report = re.sub(r'(?:src|href)="data:[^"]*"', "", (tmp_path / "report.html").read_text())
    assert "Wine bitterness" in report
    for absent in ('id="effects"', 'id="probability"', 'id="findings"', 'id="recovery"',
                   "living form", "HZ", "tenants"):
        assert absent not in report, absent


_SEED_SCRIPT = """
import sys
import numpy as np
from data.config import load_config
from data.loader import read_table
from inference.engine import Engine, SamplerSettings
from models.design import prepare
from models.spec import specs_from_config
cfg = load_config(sys.argv[1])
frame = read_table(cfg.table)
spec = specs_from_config(cfg, columns=set(frame.columns))["strength"]
tree = Engine().fit(spec, prepare(frame, spec),
                    SamplerSettings(draws=60, tune=60, chains=2, seed=11, predictive=False))
np.save(sys.argv[2], tree["posterior"]["intercept"].values)
"""


def test_a_seed_gives_the_same_draws_with_an_empty_and_a_warm_compile_cache(tmp_path):
    """First process: empty compile cache (a fresh clone); second: the cache it left.

    ``base_compiledir`` holds numba's cache too: with only ``compiledir`` set, numba's
    functions came warm from ``~/.pytensor/numba`` in both processes, and the difference
    (numba fastmath, compiled fresh vs loaded) went unseen on any machine that had run the
    tests before."""
    env = os.environ | {"PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'cache'}"}
    script = tmp_path / "fit.py"
    script.write_text(_SEED_SCRIPT)
    for name in ("cold", "warm"):
        subprocess.run([sys.executable, str(script), str(DATA / "pastes.toml"),
                        str(tmp_path / f"{name}.npy")], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=600)
    assert any((tmp_path / "cache").iterdir())  # the first process did compile into it
    np.testing.assert_array_equal(np.load(tmp_path / "cold.npy"), np.load(tmp_path / "warm.npy"))


def test_a_fit_short_of_its_thresholds_gets_more_draws_from_the_compiled_model():
    """Top-up on a real model: nutpie's chains run on from the same compiled model and are
    judged again at growing checkpoints -- the first draws are the plain fit's (same seed),
    nothing is redrawn; a shortfall left is said. The rounds of the other samplers (more
    chains, or longer ones anew) are unit-tested with synthetic fits in
    test_diagnostics.py."""
    from diagnostics.convergence import model_verdict
    from inference.engine import Engine, SamplerSettings

    spec, frame = _spec_and_frame("pastes")
    data = prepare(frame, spec)
    engine = Engine()
    # 2 chains x 60 draws cannot reach the 200 bulk and tail ESS a 2-chain run needs
    small = SamplerSettings(draws=60, tune=60, chains=2, seed=11, predictive=False)
    plain = engine.fit(spec, data, small)
    topped = engine.fit(spec, data, dataclasses.replace(small, top_up=2))
    assert plain["posterior"].sizes["chain"] == 2 and plain.attrs["top_up_rounds"] == 0
    assert plain.attrs["top_up"] == "none"
    rounds = topped.attrs["top_up_rounds"]
    steps = topped.attrs["top_up"].split("; ")
    assert rounds >= 1 and len(steps) == rounds and topped.attrs["chains_requested"] == 2
    post = topped["posterior"]
    assert post.sizes["chain"] == 2 and steps[0].startswith("continued to 2 x ")
    # the chains ran on: their first 60 draws are the plain fit's, the rest are new
    np.testing.assert_array_equal(post["intercept"].values[:, :60],
                                  plain["posterior"]["intercept"].values)
    first = int(steps[0].removeprefix("continued to 2 x ").split(" draws")[0])
    assert 100 <= first <= 120 and post.sizes["draw"] <= 60 * 2**2
    assert topped["sample_stats"].sizes["chain"] == post.sizes["chain"]
    assert topped["sample_stats"].sizes["draw"] == post.sizes["draw"]
    assert engine.timings[-1]["top_up_rounds"] == rounds
    row = model_verdict(topped).iloc[0]
    assert (row["chains"], row["draws"], row["top_up_rounds"]) == (
        post.sizes["chain"], post.sizes["draw"], rounds)
    if row["verdict"] != "ok":  # a shortfall left is said, never hidden
        assert f"still short after {rounds} round(s) of more draws" in row["reason"]
        # stopped early only where draws cannot cure it (a divergence)
        assert rounds == 2 or row["divergences"] > 0


# --------------------------------------------------------------------------------------
# published estimates (slow)
# --------------------------------------------------------------------------------------
# parameter -> published value; "fixed" ones must also lie within half a posterior SD of
# the posterior mean (the published fits are REML/Laplace point estimates; variance
# components only need to lie inside the 90% interval)
PUBLISHED = {
    "pastes": {"fixed": {"intercept": 60.0533},
               "other": {"sd_cask": 2.9041, "sd_batch": 1.0951, "sigma": 0.8234}},
    "wine": {"fixed": {"beta[temp[warm]]": 3.0630, "beta[contact[yes]]": 1.8349,
                       "thresholds[1|2]": -1.6237, "thresholds[2|3]": 1.5134,
                       "thresholds[3|4]": 4.2285, "thresholds[4|5]": 6.0888},
             "other": {"sd_judge": 1.1310}},
    "cbpp": {"fixed": {"intercept": -1.3983, "beta[period[2]]": -0.9919,
                       "beta[period[3]]": -1.1282, "beta[period[4]]": -1.5797},
             "other": {"sd_herd": 0.6421}},
    "oats": {"fixed": {"intercept": 81.872, "beta[nitro]": 73.667},
             "other": {"sd_Block": 14.506, "sd_Variety": 11.005, "sigma": 12.867}},
    "sleepstudy": {"fixed": {"intercept": 251.405, "beta[Days]": 10.467},
                   "other": {"sd_Subject[Intercept]": 24.741, "sd_Subject[Days]": 5.922,
                             "corr_Subject[Intercept, Days]": 0.066, "sigma": 25.592}},
    "penicillin": {"fixed": {"intercept": 22.9722},
                   "other": {"sd_plate": 0.8467, "sd_sample_level": 1.9316,
                             "sigma": 0.5499}},
    "contraception": {"fixed": {"intercept": -1.006374, "beta[age]": 0.006256,
                                "beta[age2]": -0.004635, "beta[ch]": 0.860382,
                                "beta[urban[Y]]": 0.692922},
                      "other": {"sd_district": 0.473985}},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_estimates_are_reproduced(name, tmp_path):
    rc = run_models.main(["--config", str(DATA / f"{name}.toml"), "--out", str(tmp_path)])
    assert rc == 0, (tmp_path / "diagnostics.csv").read_text()
    diagnostics = pd.read_csv(tmp_path / "diagnostics.csv")
    assert (diagnostics["verdict"] == "ok").all(), diagnostics.to_dict("records")
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("parameter")
    for kind in ("fixed", "other"):
        for parameter, value in PUBLISHED[name][kind].items():
            row = summary.loc[parameter]
            assert row["q05"] <= value <= row["q95"], (parameter, value, row.to_dict())
            if kind == "fixed":
                assert abs(row["mean"] - value) <= 0.5 * row["sd"], (parameter, value,
                                                                     row.to_dict())
    assert (tmp_path / "report.html").exists()
