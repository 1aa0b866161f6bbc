"""Estimands a methodologist can defend: covariate roles, named adjustment sets and
target populations."""

from __future__ import annotations

import pandas as pd
import pytest

import run_models
from data import codebook as cb
from data.suite import ADJUSTMENTS, default_specs
from models.causal import ROLES, TWO_SIDED
from tests.conftest import quick_fit


def test_every_covariate_has_a_role_and_a_reason():
    assert set(cb.COVARIATE_ROLES) == {c.name for c in cb.COVARIATES}
    for node in cb.CAUSAL_GRAPH.nodes:
        assert node.role in ROLES, node.name
        assert len(node.reason) > 15, node.name  # a sentence, not a tag
    assert {cb.CAUSAL_GRAPH.role(n) for n in ("social_motive", "personal_care",
                                              "residence_duration")} == {TWO_SIDED}


def test_adjustment_sets_come_from_the_graph():
    tenant = [c.name for c in cb.COVARIATES]
    assert cb.ADJUSTMENT_SETS["study"] == (*tenant, "rural")
    pre = set(cb.ADJUSTMENT_SETS["pre_residence"])
    wide = set(cb.ADJUSTMENT_SETS["pre_residence_wide"])
    # plausibly consequences of the form (mediators), so not held fixed for a total effect
    assert not pre & {"shared_norms", "little_outside_contact", "social_motive",
                      "residence_duration", "personal_care"}
    assert wide - pre == {"social_motive", "residence_duration", "personal_care"}
    assert {"female", "age_group", "education", "extraversion", "rural"} <= pre
    assert ADJUSTMENTS == ("pre_residence", "pre_residence_wide", "study", "both", "bounds")


def test_changing_one_role_changes_the_set_and_the_label():
    graph = cb.CAUSAL_GRAPH
    moved = graph.with_roles({"social_motive": ("confounder", "read as a pre-move motive")})
    candidates = [c.name for c in cb.COVARIATES]
    assert "social_motive" not in graph.adjustment_set("pre_residence", candidates)
    assert "social_motive" in moved.adjustment_set("pre_residence", candidates)
    wide = default_specs(adjustment="pre_residence_wide")["contact__pre_residence_wide"]
    terms = [t.name for t in wide.terms]
    assert graph.label(terms, conditional=False).assumes.count("social_motive") == 1
    assert "social_motive" not in moved.label(terms, conditional=False).assumes
    # declaring shared norms a confounder turns the study set's controlled effect total
    study_terms = [t.name for t in default_specs()["contact"].terms]
    assert graph.label(study_terms, conditional=False).interpretation == "controlled"
    freed = graph.with_roles({"shared_norms": "confounder",
                              "little_outside_contact": "confounder"})
    assert freed.label(study_terms, conditional=False).interpretation == "total"
    assert graph.label(study_terms, conditional=True).interpretation == "conditional"
    with pytest.raises(ValueError, match="unknown causal role"):
        graph.with_roles({"female": "collider"})


def test_no_total_effect_holds_a_possible_mediator():
    """Every model of every set: 'total' only without a mediator, form feature or gate
    term among its terms."""
    blocking = {n.name for n in cb.CAUSAL_GRAPH.nodes
                if n.role in ("mediator", "form_feature", "gate")}
    for name, spec in default_specs(adjustment="bounds").items():
        terms = [t.name for t in spec.terms]
        label = cb.CAUSAL_GRAPH.label(terms, conditional=bool(spec.subset))
        if label.interpretation == "total":
            assert not blocking & set(terms), name
        if blocking & set(terms):
            assert label.interpretation in ("controlled", "conditional"), name


def test_suites_per_adjustment_set():
    study = default_specs()
    pre = default_specs(adjustment="pre_residence")
    both = default_specs(adjustment="both")
    bounds = default_specs(adjustment="bounds")
    assert set(both) == set(study) | set(pre) and len(both) == 2 * len(study)
    assert len(bounds) == 3 * len(study)
    assert all(name.endswith("__pre_residence") for name in pre)
    for name, spec in study.items():
        twin = pre[f"{name}__pre_residence"]
        assert spec.adjustment == "study" and twin.adjustment == "pre_residence"
        assert twin.outcome == spec.outcome and twin.response == spec.response
        dropped = {t.name for t in spec.terms} - {t.name for t in twin.terms}
        assert {"shared_norms", "little_outside_contact", "social_motive",
                "residence_duration", "personal_care"} <= dropped <= {
            "shared_norms", "little_outside_contact", "social_motive",
            "residence_duration", "personal_care", "small_community"}, name
        # the complex-level confounder is in every model of every set
        assert "rural" in {t.name for t in spec.terms}, name
        assert "rural" in {t.name for t in twin.terms}, name
    # a gate term stays (the conditional model is defined by it), a form feature does not
    assert "contact_daily" in {t.name for t in pre["friendly_contact__pre_residence"].terms}
    assert "small_community" not in {t.name for t in pre["cohesion__pre_residence"].terms}
    with pytest.raises(ValueError, match="unknown adjustment set 'none'"):
        default_specs(adjustment="none")


def test_the_norms_claim_is_judged_without_norms():
    from data.findings import FINDINGS
    from diagnostics.findings import path_models

    study = list(default_specs().values())
    both = list(default_specs(adjustment="both").values())
    chosen = path_models(FINDINGS, study, graph=cb.CAUSAL_GRAPH)
    assert chosen == {("cohesion", "education[3]"): "(none fitted without shared_norms)"}
    chosen = path_models(FINDINGS, both, graph=cb.CAUSAL_GRAPH)
    model = chosen[("cohesion", "education[3]")]
    spec = next(s for s in both if s.name == model)
    assert "shared_norms" not in {t.name for t in spec.terms}
    assert "education" in {t.name for t in spec.terms}
    # every other claim with a path: none holds its own path fixed
    for f in FINDINGS:
        if f.through:
            assert f.kind == "beta"


def test_cli_fits_both_adjustment_sets_side_by_side(data_dir, small_frame, tmp_path):
    out = tmp_path / "run"
    # a register in which the oldest are three times as many (two in three did not answer)
    cols = ["tenant_id", "complex_id", "living_form", "age_group", "female", "lives_alone"]
    answered = small_frame[cols].assign(responded=1)
    old = answered[answered["age_group"] == 4]
    silent = pd.concat([old, old]).assign(responded=0)
    silent["tenant_id"] = [f"N{i}" for i in range(len(silent))]
    register = pd.concat([answered, silent], ignore_index=True)
    register.to_csv(tmp_path / "register.csv", index=False)
    argv = ["--data", str(data_dir), "--outcomes", "gossip,gossip__pre_residence",
            "--adjustment", "both", "--subgroup", "RO", "--draws", "60", "--tune", "80",
            "--chains", "2", "--out", str(out), "--population", str(tmp_path / "register.csv")]
    assert run_models.main(argv) in (0, 1)
    effects = pd.read_csv(out / "effects.csv")
    # standardised to the respondents, post-stratified (MRP) and propensity-weighted
    assert set(effects.loc[effects["scale"] == "probability", "population"]) == \
        {"respondents", "register.csv", "register.csv [propensity]"}
    weights = pd.read_csv(out / "population.csv")
    assert set(weights["model"]) == {"gossip", "gossip__pre_residence"}
    assert (weights["population_size"] == len(register)).all()
    assert (weights["ess"] < len(register)).all()
    mrp = weights[weights["standardisation"] == "poststratified"]
    assert (mrp["borrowed_share"] == 0).all() and (mrp["cells_without_respondents"] == 0).all()
    assert (weights.loc[weights["standardisation"] == "propensity", "propensity_refits"] > 1).all()
    # the tipping point: every contrast over the delta grid, the MAR analysis at delta 0
    tipping = pd.read_csv(out / "tipping_point.csv")
    assert set(tipping["model"]) == {"gossip", "gossip__pre_residence"}
    assert 0.0 in set(tipping["delta"]) and tipping["delta"].nunique() >= 5
    at0 = tipping[tipping["delta"] == 0].set_index("contrast")
    headline = effects[(effects["model"] == "gossip") & (effects["population"] == "register.csv")
                       & (effects["estimand"] == "new_complex")
                       & (effects["subgroup"] == "all analysed")].set_index("contrast")
    shared = [c for c in at0[at0["model"] == "gossip"].index if c in headline.index]
    assert shared  # the tipping table at delta 0 is the post-stratified contrast
    for c in shared:
        assert abs(at0[at0["model"] == "gossip"].loc[c, "mean"] - headline.loc[c, "mean"]) < 3
    response = pd.read_csv(out / "response.csv")
    old = response[(response["variable"] == "age_group") & (response["value"].astype(str) == "4")]
    assert float(old["population_share"].iloc[0]) > float(old["respondents_share"].iloc[0])
    assert 'id="population"' in (out / "report.html").read_text()
    assert set(effects["adjustment"]) == {"study", "pre_residence"}
    assert set(effects.loc[effects["adjustment"] == "pre_residence", "model"]) == \
        {"gossip__pre_residence"}
    assert set(effects["outcome"]) == {"gossip"}
    prob = effects[effects["scale"] == "probability"]
    assert set(prob["subgroup"]) == {"all analysed", "living_form=RO"}
    overlap = pd.read_csv(out / "overlap.csv")
    assert set(overlap["model"]) == {"gossip", "gossip__pre_residence"}
    assert overlap["outside_support"].between(0, 1).all()
    assert effects.loc[effects["contrast"] == "RO - HZ", "outside_support"].notna().all()
    summary = pd.read_csv(out / "summary.csv")
    pre_terms = set(summary.loc[summary["model"] == "gossip__pre_residence", "parameter"])
    assert "beta[shared_norms]" not in pre_terms and "beta[female]" in pre_terms
    # the report's conclusions are checked on the report's own (study) adjustment only
    findings = pd.read_csv(out / "findings.csv")
    assert set(findings["outcome"]) == {"gossip"}


def test_target_population_of_one_form(gossip_fit):
    """"The effect for RO's own residents": every form's counterfactual averaged over the
    rows that live in RO, equal to the g-computation done by hand on those rows."""
    import numpy as np

    from diagnostics.effects import (
        event_probability,
        focal_effects,
        form_probabilities,
        posterior_draws,
        probability_effects,
        random_sd,
        subgroup_rows,
    )

    spec, data, tree = gossip_fit
    rows = subgroup_rows(spec, data, "RO")
    forms = list(data.level_labels[spec.focal])
    assert len(rows) and (data.level_idx[spec.focal][rows] == forms.index("RO")).all()
    probs = form_probabilities(tree, spec, data, subgroup="RO")
    draws = posterior_draws(tree, max_draws=400)
    by_hand = event_probability(spec, data, draws, X=data.X[rows],
                                offset=focal_effects(spec, data, draws)[:, forms.index("GG")],
                                sd=random_sd(spec, draws))
    np.testing.assert_allclose(probs.sel({spec.focal: "GG"}).values, by_hand)
    everyone = form_probabilities(tree, spec, data)
    assert not np.allclose(everyone.values, probs.values)  # another population
    table = probability_effects(tree, spec, data, subgroup="RO")
    assert set(table["subgroup"]) == {"living_form=RO"}
    assert set(probability_effects(tree, spec, data)["subgroup"]) == {"all analysed"}
    with pytest.raises(ValueError, match="target population 'XX'"):
        subgroup_rows(spec, data, "XX")


@pytest.fixture(scope="module")
def gossip_fit(small_frame):
    return quick_fit(default_specs()["gossip"], small_frame, draws=100, tune=150, seed=3)


def test_overlap_flags_a_contrast_that_extrapolates():
    import numpy as np

    from diagnostics.overlap import overlap_table
    from models.design import ModelData
    from models.spec import ModelSpec

    rng = np.random.default_rng(0)
    n = 600
    form = np.repeat([0, 1, 2], n // 3)  # A (reference), B like A, C far from A in x
    x = rng.normal(0, 1, n)
    x[form == 2] += 4.0  # C's rows live where almost none of A's do
    data = ModelData(y=np.zeros(n), X=x[:, None], term_names=("x",),
                     level_idx={"g": form}, level_labels={"g": ("A", "B", "C")},
                     categories=(), row_ids=tuple(map(str, range(n))),
                     removed=pd.DataFrame(), n_before=n)
    spec = ModelSpec(name="m", outcome="m", response="y", family="gaussian", levels=("g",),
                     focal="g", reference="A")
    table = overlap_table(spec, data).set_index("contrast")
    assert list(table.index) == ["B - A", "C - A"]
    assert table.loc["B - A", "outside_support"] < 0.05
    assert not table.loc["B - A", "extrapolates"]
    assert table.loc["C - A", "outside_support"] > 0.3 and table.loc["C - A", "extrapolates"]
    assert table.loc["C - A", "mean_score_a"] > 0.9 > 0.1 > table.loc["C - A", "mean_score_b"]


def test_subgroup_population_weights_and_custom_contrasts(gossip_fit, small_frame):
    """A ``column=value`` subgroup is the g-computation over exactly its rows; pooled
    groups are also averaged with stated weights; custom contrasts are plain averages."""
    import numpy as np

    from diagnostics.effects import form_probabilities, probability_effects, subgroup_rows
    from models.design import aligned_frame

    spec, data, tree = gossip_fit
    rows = subgroup_rows(spec, data, "age_group=4", small_frame)
    ages = aligned_frame(small_frame, spec, data)["age_group"].to_numpy()
    assert (ages[rows] == 4).all() and (np.delete(ages, rows) != 4).all()
    assert 0 < len(rows) < data.n
    with pytest.raises(ValueError, match="column 'nope'"):
        subgroup_rows(spec, data, "nope=1", small_frame)
    with pytest.raises(ValueError, match="no analysed rows"):
        subgroup_rows(spec, data, "age_group=9", small_frame)

    weights = {"tenant-weighted": {"GG": 1.0, "LZ": 0.0, "HZ": 3.0}}
    contrasts = {"clustered - non-clustered": (("RO", "RR", "RG", "RB"), ("GG", "LZ", "HZ"))}
    table = probability_effects(tree, spec, data, subgroup="age_group=4", frame=small_frame,
                                pooled={"non-clustered": ("GG", "LZ", "HZ")},
                                weights=weights, contrasts=contrasts).set_index("contrast")
    assert table["subgroup"].iloc[0] == "age_group=4"
    p = 100 * form_probabilities(tree, spec, data, subgroup="age_group=4",
                                 frame=small_frame).to_pandas()
    weighted = p["RB"] - (p["GG"] + 3 * p["HZ"]) / 4
    assert table.loc["RB - non-clustered [tenant-weighted]", "mean"] == \
        pytest.approx(weighted.mean())
    custom = p[["RO", "RR", "RG", "RB"]].mean(axis=1) - p[["GG", "LZ", "HZ"]].mean(axis=1)
    assert table.loc["clustered - non-clustered", "mean"] == pytest.approx(custom.mean())
    assert table.loc["clustered - non-clustered", "p_positive"] == \
        pytest.approx((custom > 0).mean())
    with pytest.raises(ValueError, match="contrast 'x'.*'ZZ'"):
        probability_effects(tree, spec, data, contrasts={"x": (("ZZ",), ("HZ",))})


def test_config_contrasts_and_by_are_checked(tmp_path, data_dir):
    from data.config import ConfigError, load_config

    path = tmp_path / "c.toml"
    path.write_text('[model]\nby = ["age_group"]\n[contrasts]\n'
                    '"cl - nc" = { plus = ["RO", "RB"], minus = ["GG"] }\n')
    cfg = load_config(path)
    assert cfg.by == ("age_group",)
    assert cfg.contrasts == {"cl - nc": (("RO", "RB"), ("GG",))}
    path.write_text('[contrasts]\nx = { plus = ["RO"], minus = ["RO"] }\n')
    with pytest.raises(ConfigError, match="'RO'.*both sides"):
        load_config(path)
    path.write_text('[contrasts]\nx = { plus = ["RO"] }\n')
    with pytest.raises(ConfigError, match=r"\[contrasts\] 'x'"):
        load_config(path)
    path.write_text('[contrasts]\nx = { plus = ["RO"], minus = ["QQ"] }\n')
    rc = run_models.main(["--data", str(data_dir), "--config", str(path), "--outcomes",
                          "gossip", "--out", str(tmp_path / "r")])
    assert rc == 2  # before any fit: the level is named
    rc = run_models.main(["--data", str(data_dir), "--by", "tenant_id", "--outcomes",
                          "gossip", "--out", str(tmp_path / "r")])
    assert rc == 2


def test_by_expands_into_one_population_per_value(small_frame):
    from dataclasses import replace

    from data.config import StudyConfig
    from workflows.setup import _populations

    cfg = replace(StudyConfig(), populations=("RO",), by=("age_group", "lives_alone"))
    got = _populations(cfg, small_frame)
    assert got == ("RO", "age_group=1", "age_group=2", "age_group=3", "age_group=4",
                   "lives_alone=0", "lives_alone=1")


def test_a_config_declares_roles_for_its_own_variables():
    from data.config import StudyConfig
    from data.study import study_for

    outcome = {"name": "score", "response": "score", "family": "gaussian",
               "terms": "ses + motivation", "levels": ["class", "school"], "focal": "school"}
    plain = study_for(StudyConfig(source="t.toml", outcomes=(outcome,)))
    # roles not declared: neither total nor controlled, and the label says why
    label = plain.causal_graph.label(["ses", "motivation"], conditional=False)
    assert label.interpretation == "adjusted" and "not declared" in label.assumes
    declared = study_for(StudyConfig(source="t.toml", outcomes=(outcome,), study={
        "roles": {"ses": "confounder", "motivation": ["mediator", "the school shapes it"]}}))
    graph = declared.causal_graph
    assert graph.exposure == "school" and graph.role("motivation") == "mediator"
    assert graph.label(["ses", "motivation"], conditional=False).interpretation == "controlled"
    assert graph.label(["ses"], conditional=False).interpretation == "total"
    with pytest.raises(ValueError, match="roles.*unknown causal role 'collider'"):
        study_for(StudyConfig(source="t.toml", outcomes=(outcome,),
                              study={"roles": {"ses": "collider"}}))
