"""lme4/brms formulas in configs: the same spec and the same PyMC model as the split keys,
every unsupported feature refused by name, and specs written back as formulas (no sampling).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.config import FORMULA_KEYS, ConfigError, formula_config, load_config
from data.loader import read_table
from models.build import build_model
from models.design import prepare
from models.formula import FormulaError, describe, parse_formula, to_formula
from models.spec import specs_from_config
from models.terms import Covariate, covariate_matrix

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

# examples/pupils.toml is written in split keys: {outcome: the formula they describe}
PUPILS = {
    "score": "score ~ girl + scale(homework_hours) + C(ses) + (1 | school/class_id)",
    "passed": "passed ~ girl + scale(homework_hours) + C(ses) + (1 | school/class_id)",
    "grade": "grade ~ girl + scale(homework_hours) + C(ses) + (1 | school/class_id)",
}
# the public-data configs (tests/data, fitted by the slow tier of test_public_data.py) are
# written as lme4 formulas: {outcome: the split keys they describe}
KEYS = {
    "cbpp": {"incidence": {"response": "incidence", "trials": "size", "terms": "C(period)",
                           "levels": ["herd"]}},
    "contraception": {"use": {"response": "use01", "terms": "age + age2 + ch + C(urban)",
                              "levels": ["district"]}},
    "oats": {"yield": {"response": "yield", "terms": "nitro", "levels": ["Variety", "Block"]}},
    "pastes": {"strength": {"response": "strength", "levels": ["cask", "batch"]}},
    "penicillin": {"diameter": {"response": "diameter", "levels": ["plate", "sample"],
                                "nested": False}},
    "sleepstudy": {"reaction": {"response": "Reaction", "terms": "Days",
                                "levels": ["Subject"], "slopes": {"Subject": ["Days"]}}},
    "wine": {"rating": {"response": "rating", "terms": "C(temp) + C(contact)",
                        "levels": ["judge"]}},
}
CASES = [(ROOT / "examples" / "pupils.toml", name, {"formula": f})
         for name, f in PUPILS.items()] + \
    [(DATA / f"{stem}.toml", name, keys) for stem, outcomes in KEYS.items()
     for name, keys in outcomes.items()]


def _swapped(cfg, name: str, written: dict):
    """``cfg`` with outcome ``name`` written the other way (``written``: a formula or the
    split keys)."""
    outcomes = tuple({k: v for k, v in oc.items() if k not in (*FORMULA_KEYS, "formula")}
                     | written if oc["name"] == name else oc for oc in cfg.outcomes)
    return cfg.__class__(**{**cfg.__dict__, "outcomes": outcomes})


def _logp_at_start(model) -> tuple[dict, float]:
    point = model.initial_point(random_seed=0)
    shapes = {v.name: np.shape(point[model.rvs_to_values[v].name]) for v in model.free_RVs}
    return shapes, float(model.compile_logp(mode="FAST_COMPILE")(point))


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].stem}-{c[1]}")
def both(request):
    path, name, other = request.param
    cfg = load_config(path)
    frame = read_table(cfg.table)
    specs = [specs_from_config(c, columns=set(frame.columns))[name]
             for c in (cfg, _swapped(cfg, name, other))]
    keys, formula = specs if "formula" in other else specs[::-1]
    assert "formula" in (cfg.outcomes[0] if "formula" not in other else other)
    return keys, formula, frame


def test_formula_and_keys_give_the_same_spec(both):
    keys, formula, _ = both
    assert formula.to_json() == keys.to_json()


# pip's PyTensor links no BLAS; the LKJ prior's initial point warns about it (as in
# inference.engine, which silences the same warning)
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_formula_and_keys_give_the_identical_pymc_model(both):
    keys, formula, frame = both
    models = [build_model(s, prepare(frame, s)) for s in (keys, formula)]
    (shapes_k, logp_k), (shapes_f, logp_f) = (_logp_at_start(m) for m in models)
    assert shapes_f == shapes_k
    assert np.isfinite(logp_k)
    assert logp_f == logp_k


def test_to_formula_reads_back_as_the_same_spec(both):
    keys, _, frame = both
    parts = parse_formula(to_formula(keys), focal=keys.focal)
    assert parts.terms == keys.terms
    assert parts.levels == keys.levels
    assert (parts.nested or len(keys.levels) == 1) == (keys.nested or len(keys.levels) == 1)
    assert parts.slopes == keys.slopes
    assert parts.response == keys.response and parts.trials == keys.trials
    assert keys.family in describe(keys)


def test_pupils_formula_is_written_as_lme4_would():
    cfg = load_config(ROOT / "examples" / "pupils.toml")
    frame = read_table(cfg.table)
    spec = specs_from_config(cfg, columns=set(frame.columns))["score"]
    assert to_formula(spec) == PUPILS["score"]
    assert describe(spec).endswith("focal school (reference S1, hierarchical)")
    # the other variants as lme4 would fit them: the focal level fixed, or left out
    rest = "score ~ girl + scale(homework_hours) + C(ses)"
    assert to_formula(spec.with_(variant="fixed")) == \
        f'{rest} + C(school, ref="S1") + (1 | school:class_id)'
    assert to_formula(spec.with_(variant="none")) == f"{rest} + (1 | school:class_id)"


@pytest.mark.parametrize("lhs", ["incidence | trials(size)", "p(incidence, size)",
                                 "cbind(incidence, size - incidence)"])
def test_binomial_responses_in_brms_bambi_and_lme4_spelling(lhs):
    parts = parse_formula(f"{lhs} ~ C(period) + (1 | herd)")
    assert (parts.response, parts.trials) == ("incidence", "size")


# --------------------------------------------------------------------------------------
# What the builder implements: the mapping
# --------------------------------------------------------------------------------------
def test_nested_crossed_and_slopes_map_to_levels():
    nested = parse_formula("y ~ x + (1 | a/b/c)")
    assert (nested.levels, nested.nested) == (("c", "b", "a"), True)
    expanded = parse_formula("y ~ x + (1 | a) + (1 | a:b)")
    assert (expanded.levels, expanded.nested) == (("b", "a"), True)
    crossed = parse_formula("y ~ x + (1 | g) + (1 | h)", focal="g")
    assert (crossed.levels, crossed.nested) == (("h", "g"), False)  # focal level last
    slopes = parse_formula("y ~ x + z + (1 + x + z | g)")
    assert slopes.slopes == ("x|g", "z|g")
    both = parse_formula("y ~ x + (1 + x | a/b)")
    assert set(both.slopes) == {"x|a", "x|b"}
    assert parse_formula("y ~ x + (1 || g)").levels == ("g",)  # no slopes: '||' is '|'


def test_fixed_terms_interactions_and_transforms():
    parts = parse_formula('y ~ x*z + C(t, ref="warm") + center(u) + log(q) + (1 | g)')
    assert parts.terms == (
        Covariate("x", "numeric"), Covariate("z", "numeric"),
        Covariate("x:z", "interaction", parts=("x", "z")),
        Covariate("t", "categorical", reference="warm"), Covariate("u", "center"),
        Covariate("log(q)", "log", parts=("q",)))
    frame = pd.DataFrame({"x": [1.0, 2, 3], "z": [0.5, 1, 2], "q": [1.0, np.e, 10],
                          "t": ["cold", "warm", "cold"], "u": [1.0, 2, 6]})
    X = covariate_matrix(frame, parts.terms)
    np.testing.assert_allclose(X["x:z"], [0.5, 2, 6])
    np.testing.assert_allclose(X["log(q)"], np.log([1.0, np.e, 10]))
    np.testing.assert_allclose(X["t[cold]"], [1, 0, 1])
    np.testing.assert_allclose(X["u"], [-2, -1, 3])
    # an interaction whose second column is no term of the model uses the column itself
    lone = parse_formula("y ~ x + x:z + (1 | g)").terms
    np.testing.assert_allclose(covariate_matrix(frame, lone)["x:z"], [0.5, 2, 6])


# --------------------------------------------------------------------------------------
# Refused, by name
# --------------------------------------------------------------------------------------
REFUSED = {
    "no_intercept_zero": ("y ~ 0 + x + (1 | g)", "without intercept"),
    "no_intercept_minus_one": ("y ~ x - 1 + (1 | g)", "without intercept"),
    "uncorrelated_slopes": ("y ~ x + (1 + x || g)", r"uncorrelated varying slopes"),
    "slopes_without_intercept": ("y ~ x + (0 + x | g)", r"'\(0 \+ x \| g\)'.*without a "
                                                         r"varying intercept"),
    "three_way_interaction": ("y ~ x:z:w + (1 | g)", r"term 'x:z:w'.*more than two"),
    "categorical_interaction": ("y ~ C(t):x + (1 | g)", r"term 'C\(t\):x'.*only "
                                                         r"interactions of two plain"),
    "transformed_interaction": ("y ~ scale(z) + x:z + (1 | g)", r"term 'x:z'.*transformed"),
    "same_column_twice": ("y ~ x + scale(x) + (1 | g)", "enters the model twice"),
    "I_call": ("y ~ I(x**2) + (1 | g)", r"term 'I\(x \*\* 2\)' is not supported"),
    "offset": ("y ~ x + offset(t) + (1 | g)", r"term 'offset\(t\)' is not supported"),
    "numpy_call": ("y ~ np.exp(x) + (1 | g)", r"term 'np.exp\(x\)' is not supported"),
    "no_group": ("y ~ x", "at least one grouping term"),
    "nested_and_crossed": ("y ~ x + (1 | a/b) + (1 | c)", "one nesting structure"),
    "interaction_group_without_parent": ("y ~ x + (1 | a:b)", "one nesting structure"),
    "same_group_twice": ("y ~ x + (1 | g) + (1 + x | g)", "appears twice"),
    "slope_not_fixed": ("y ~ x + (1 + z | g)", r"slope of 'z' must be a fixed term"),
    "group_call": ("y ~ x + (1 | gr(g, by = f))", "grouping factor must be a column"),
    "response_call": ("log(y) ~ x + (1 | g)", r"response 'log\(y\)' is not supported"),
    "two_tildes": ("y ~ x ~ z", "exactly one '~'"),
    "unparsable": ("y ~ x $ z + (1 | g)", "cannot parse"),
}


@pytest.mark.parametrize("formula,match", REFUSED.values(), ids=REFUSED.keys())
def test_unsupported_formula_features_are_refused_by_name(formula, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula(formula)


@pytest.mark.parametrize("formula,focal,match", [
    ("y ~ x + (1 | school/class)", "class", "must be the highest level"),
    ("y ~ x + (1 | class)", "school", "not a grouping factor"),
    ("y ~ x + (1 + x | school)", "school", "takes no varying slopes"),
])
def test_the_focal_level_must_be_the_formulas_highest_group(formula, focal, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula(formula, focal=focal)


# --------------------------------------------------------------------------------------
# The config: formula key, unknown keys with a hint
# --------------------------------------------------------------------------------------
def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_a_config_formula_is_parsed_at_load_and_names_the_outcome(tmp_path):
    path = _write(tmp_path, '[[outcomes]]\nformula = "y ~ x + (1 + x || g)"\n'
                            'family = "gaussian"\n')
    with pytest.raises(ConfigError, match=r"c.toml: \[\[outcomes\]\] #1: .*uncorrelated"):
        load_config(path)
    path = _write(tmp_path, '[[outcomes]]\nformula = "y ~ x + (1 | g)"\nfamily = "gaussian"\n')
    assert load_config(path).outcomes[0]["name"] == "y"  # the name defaults to the response


def test_formula_and_its_keys_together_are_refused(tmp_path):
    path = _write(tmp_path, '[[outcomes]]\nformula = "y ~ x + (1 | g)"\nfamily = "gaussian"\n'
                            'levels = ["g"]\n')
    with pytest.raises(ConfigError, match=r"either 'formula' or the keys \['levels'\]"):
        load_config(path)


@pytest.mark.parametrize("text,match", [
    ('[model]\nvarient = "fixed"\n', r"\[model\]: unknown key 'varient'; did you mean "
                                     r"'variant'\?"),
    ("[sampler]\ndraw = 10\n", r"\[sampler\]: unknown key 'draw'; did you mean 'draws'\?"),
    ("[priors]\nbeta_sds = 1.0\n", r"\[priors\]: unknown key 'beta_sds'; did you mean "
                                   r"'beta_sd'\?"),
    ('[data]\ntabel = "x.csv"\n', r"\[data\]: unknown key 'tabel'; did you mean 'table'\?"),
    ('[study]\ntitel = "x"\n', r"\[study\]: unknown key 'titel'; did you mean 'title'\?"),
    ("[sensitivity.tight]\ngroup_sd = 0.5\n", r"\[sensitivity.tight\]: unknown key "
                                              r"'group_sd'; did you mean 'group_sd_scale'\?"),
    ('[contrasts]\n"a - b" = { plus = ["a"], minsu = ["b"] }\n',
     r"\[contrasts\] 'a - b': unknown key 'minsu'; did you mean 'minus'\?"),
    ('[[outcomes]]\nname = "y"\nresponse = "y"\nfamily = "gaussian"\nlevels = ["g"]\n'
     'formla = "y ~ 1"\n', r"\[\[outcomes\]\] #1: unknown key 'formla'; did you mean "
                           r"'formula'\?"),
    ('[modle]\nvariant = "fixed"\n', r"unknown section 'modle'; did you mean 'model'\?"),
])
def test_unknown_keys_are_refused_with_the_nearest_valid_key(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text))


def test_data_columns_rename_a_single_table(tmp_path):
    pd.DataFrame({"Score": [1.0, 2.0], "klas": ["a", "b"]}).to_csv(tmp_path / "t.csv",
                                                                  index=False)
    path = _write(tmp_path, '[data]\ntable = "t.csv"\n[data.columns]\nScore = "score"\n'
                            'klas = "class_id"\n')
    cfg = load_config(path)
    assert cfg.column_map == {"Score": "score", "klas": "class_id"}
    from workflows.setup import load_frame

    frame, _, _ = load_frame(None, cfg)
    assert list(frame.columns) == ["score", "class_id"]


def test_formula_config_replaces_the_outcomes_and_the_table(tmp_path):
    base = load_config(ROOT / "examples" / "pupils.toml")
    cfg = formula_config("score ~ girl + (1 | school/class_id)", table=tmp_path / "x.csv",
                         family="gaussian", focal="school", reference="S1", base=base)
    assert cfg.table == tmp_path / "x.csv" and cfg.priors == base.priors
    assert [oc["name"] for oc in cfg.outcomes] == ["score"]
    with pytest.raises(ConfigError, match="not a grouping factor"):
        formula_config("score ~ girl + (1 | class_id)", focal="school")


# --------------------------------------------------------------------------------------
# The command line: --formula with --table
# --------------------------------------------------------------------------------------
PUPILS_FORMULA = "score ~ girl + scale(homework_hours) + C(ses) + (1 | school/class_id)"


def test_cli_formula_on_one_table_prints_the_formula(capsys):
    import run_models

    rc = run_models.main(["check", "--formula", PUPILS_FORMULA, "--table",
                          str(ROOT / "examples" / "pupils.csv"), "--focal", "school",
                          "--reference", "S1"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert f"formula  {PUPILS_FORMULA}" in printed.out
    assert "levels   class_id (30), school (6)" in printed.out


@pytest.mark.parametrize("argv,match", [
    (["--formula", "score ~ girl + (1 + girl || school)"], "uncorrelated varying slopes"),
    (["--formula", PUPILS_FORMULA, "--data", "somewhere"], "two data sources"),
    (["--focal", "school"], "go with --formula"),
])
def test_cli_formula_errors_are_one_line(capsys, argv, match):
    import run_models

    rc = run_models.main(["check", "--table", str(ROOT / "examples" / "pupils.csv"), *argv])
    printed = capsys.readouterr()
    assert rc != 0
    assert re.search(match, printed.err + printed.out)
    assert "Traceback" not in printed.err


def test_cli_formula_and_table_reach_the_specs():
    from workflows.commands import build_parser
    from workflows.setup import setup

    args = build_parser().parse_args(["fit", "--formula", PUPILS_FORMULA, "--table",
                                      str(ROOT / "examples" / "pupils.csv"), "--family",
                                      "gaussian", "--focal", "school", "--reference", "S1"])
    run = setup(args)
    cfg = load_config(ROOT / "examples" / "pupils.toml")
    keys = specs_from_config(cfg, columns=set(run.frame.columns))["score"]
    # the config's [priors] beta_sd = 1.0 is not on the command line: otherwise identical
    assert run.specs["score"].to_json() == keys.with_(priors={"beta_sd": 1.5}).to_json()


# --------------------------------------------------------------------------------------
# Each supported feature fitted once (tiny draws: it samples, not that it converges)
# --------------------------------------------------------------------------------------
FITTED = {
    "nested_slopes_interaction_log_center": (
        "score ~ girl*homework_hours + log(homework_hours) + center(ses) + "
        "(1 + girl | school/class_id)", "gaussian",
        {"girl", "homework_hours", "girl:homework_hours", "log(homework_hours)", "ses"}),
    "crossed_reference_scale_trials": (
        'passed | trials(one) ~ C(ses, ref="2") + scale(homework_hours) + (1 | school) + '
        "(1 | class_id)", "binomial", {"ses[1]", "ses[3]", "homework_hours"}),
}


@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
@pytest.mark.parametrize("formula,family,terms", FITTED.values(), ids=FITTED.keys())
def test_each_supported_feature_fits(formula, family, terms):
    from tests.conftest import quick_fit

    frame = read_table(ROOT / "examples" / "pupils.csv").assign(one="1")
    cfg = formula_config(formula, family=family)
    spec = next(iter(specs_from_config(cfg, columns=set(frame.columns)).values()))
    _, data, tree = quick_fit(spec, frame, draws=40, tune=40, seed=2)
    post = tree["posterior"]
    assert set(post["term"].values) == terms
    assert np.isfinite(post["beta"].values).all()
    if spec.slopes:  # (1 + girl | school/class_id): intercept and slope SDs at both levels
        assert list(post["sd_class_id"]["coef_class_id"].values) == ["Intercept", "girl"]
        assert "corr_school" in post
    else:
        assert not spec.nested and {"sd_school", "sd_class_id"} <= set(post.data_vars)
