"""The HTML report: the answer first, tables for people, a methods text, and rendering in a
real (headless) browser at the first screen's size."""

import os
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from diagnostics.convergence import THRESHOLDS  # noqa: E402
from diagnostics.headline import (  # noqa: E402
    convergence_line,
    findings_sentences,
    headline_effects,
    level_groups,
)
from diagnostics.methods import methods_markdown, methods_text  # noqa: E402
from diagnostics.plots import forest_figure, headline_figure  # noqa: E402
from diagnostics.present import decimals_for, present  # noqa: E402
from diagnostics.report import SECTIONS, build_report, figure_png  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LEVELS = ("GG", "LZ", "RO", "RB", "RR", "RG")
GROUPS = level_groups([*LEVELS, "HZ"], {"non-clustered": ("GG", "LZ", "HZ")}, "clustered")
OUTCOMES = ("contact", "friendly_contact", "activity_organised", "activity_participation",
            "organised_together", "maintained_together", "gossip", "cohesion", "lonely",
            "help_received", "help_given")


def _probability_rows(model, outcome, *, effect="unconditional", adjustment="study", shift=0.0,
                      seed=0, unit="percentage points"):
    rng = np.random.default_rng(seed)
    rows = [{"model": model, "outcome": outcome, "contrast": "HZ", "scale": "probability",
             "estimand": "new_complex", "effect": effect, "event": f"P({outcome} = 1)",
             "subgroup": "all analysed", "population": "respondents", "unit": "percent",
             "mean": 31.0, "sd": 2.0, "q05": 28.0, "q95": 34.0, "p_positive": np.nan,
             "adjustment": adjustment}]
    for level in LEVELS:
        mean = float(rng.normal(3, 4)) + shift
        rows.append({**rows[0], "contrast": f"{level} - HZ", "unit": unit, "mean": mean,
                     "sd": 2.9, "q05": mean - 4.8, "q95": mean + 4.8,
                     "p_positive": float(rng.uniform(0.5, 1) if mean > 0 else
                                         rng.uniform(0, 0.5))})
    return rows


def _tables(n_outcomes=3):
    names = OUTCOMES[:n_outcomes]
    diagnostics = pd.DataFrame([
        {"model": m, "verdict": "fail" if k == 1 else "ok",
         "reason": "3 divergent transition(s)" if k == 1 else "all checks passed",
         "max_r_hat": 1.004, "min_ess_bulk": 812.0, "divergences": 3 if k == 1 else 0}
        for k, m in enumerate(names)])
    latent = pd.DataFrame([
        {"model": m, "outcome": m, "contrast": f"{f} - HZ", "scale": "latent", "mean": 0.3123,
         "sd": 0.1234, "q05": 0.1, "q95": 0.5, "estimand": np.nan, "p_positive": np.nan}
        for m in names for f in LEVELS])
    # the first outcome has two parts: a joint model's total effect beside its conditional
    # part (shifted by +50); the headline takes the total
    prob = pd.DataFrame([r for k, m in enumerate(names) for r in _probability_rows(
        f"{m}__total" if k == 0 else m, m, seed=k)] + _probability_rows(
        names[0], names[0], effect="conditional", shift=50.0))
    estimands = pd.DataFrame([
        {"outcome": "friendly_contact", "contrast": "RB - HZ", "effect": e, "adjustment": a,
         "model": m, "mean": mean, "q05": mean - 3, "q95": mean + 3}
        for e, a, m, mean in (("conditional", "study", "friendly_contact", 12.0),
                              ("unconditional", "study", "friendly_contact__total", 15.5))])
    return {"diagnostics": diagnostics, "effects": pd.concat([latent, prob], ignore_index=True),
            "estimands": estimands,
            "findings": pd.DataFrame([
                {"outcome": o, "parameter": p, "kind": k, "claim": c, "p_claim": pc,
                 "verdict": v, "detail": np.nan, "model_verdict": "ok"}
                for o, p, k, c, pc, v in (
                    ("contact", "RB - HZ", "contrast", "RB and RR more contact", 0.99,
                     "supported"),
                    ("contact", "RR - HZ", "contrast", "RB and RR more contact", 0.90,
                     "uncertain"),
                    ("contact", "RB - HZ & RR - HZ", "joint", "RB and RR more contact", 0.89,
                     "uncertain"),
                    ("gossip", "RR - HZ", "contrast", "RR gossip more", 0.02,
                     "contradicted"))]),
            "population_response": pd.DataFrame([{"variable": "age_group", "value": 1,
                                                  "invited": 100, "responded": 25}]),
            "coverage": pd.DataFrame([{"model": "contact", "covered": 9, "n": 10}])}


def _methods():
    facts = [{"name": m, "outcome": m, "family": "bernoulli", "subset": None, "n": 2963,
              "terms": ["age_group", "female"], "levels": ["complex_id", "living_form"],
              "focal": "living_form", "variant": "hierarchical", "reference": "HZ",
              "adjustment": "study", "parametrisation": [("complex_id", "noncentered")],
              "priors": {"beta_sd": 1.5, "intercept_sd": 3.0, "threshold_sd": 3.0,
                         "focal_sd_scale": 1.0, "group_sd_scale": 1.0},
              "target_accept": 0.9} for m in OUTCOMES[:3]]
    return methods_text(models=facts, settings={"sampler": "nutpie", "adaptation": "draw_diag",
                                                "chains": 4, "tune": 1000, "draws": 1000,
                                                "seed": 1},
                        thresholds=THRESHOLDS, n_rows=2963, units="tenants",
                        groups={"complex_id": 470, "living_form": 7},
                        level_names={"complex_id": "complex", "living_form": "living form"},
                        source="simulated", estimand="the headline estimand")


def _report(n_outcomes=3, **kw):
    tables = _tables(n_outcomes)
    head = headline_effects(tables["effects"])
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figures = {"headline": [("headline", figure_png(headline_figure(head, groups=GROUPS)))],
               "effects": [("forest", figure_png(forest_figure(tables["effects"])))],
               "ppc": [("a line", figure_png(fig))]}
    return build_report(title="Test report", source="unit test", tables=tables,
                        figures=figures, groups=GROUPS, methods=_methods(), **kw)


def test_report_answers_first_and_flags_the_failed_model():
    text = _report()
    answer = text[text.index('id="answer"'):text.index('id="effects"')]
    assert 'id="headline-figure"' in answer and 'id="findings-list"' in answer
    # the banner names the model that cannot be trusted, and its finding says so
    assert "cannot be trusted: friendly_contact (3 divergent transition(s))" in answer
    assert "<b>friendly_contact</b> NOT TRUSTWORTHY (convergence failed)" in answer
    estimands = text[text.index('id="estimands"'):text.index('id="population"')]
    assert "+15.5 [+12.5, +18.5]" in estimands and "unconditional, study" in estimands
    for section in SECTIONS:
        assert f'id="{section}"' in text, section
    # sections in the order of the questions, methods last
    at = [text.index(f'<section id="{s}"') for s in SECTIONS]
    assert at == sorted(at)
    assert text.count("data:image/png;base64,") == 3
    assert "download effects" not in text and 'download="diagnostics.csv"' in text
    # the claims per sentence: the joint row's verdict, the pairs counted
    claims = text[text.index('id="table-claims"'):text.index('id="table-findings"')]
    assert claims.count("<tr>") == 3 and "RB and RR more contact" in claims
    assert '<td class="warn">uncertain</td>' in claims
    assert '<td class="fail">contradicted</td>' in claims
    # the verdict words of every kind of claim, with their rules, beside the table
    legend = text[text.index('id="verdict-legend"'):text.index('id="table-claims"')]
    for word in ("supported", "contradicted", "holds", "fails", "equivalent", "different",
                 "uncertain", "ROPE"):
        assert word in legend, word
    assert "not supported" not in text


def test_all_ok_is_one_line():
    cls, line = convergence_line(pd.DataFrame([{"model": "a", "verdict": "ok", "reason": ""}]),
                                 THRESHOLDS)
    assert cls == "ok" and line.startswith("All 1 models passed")
    cls, line = convergence_line(pd.DataFrame([
        {"model": "a", "verdict": "ok", "reason": ""},
        {"model": "b", "verdict": "warn", "reason": "ESS 300"}]), THRESHOLDS)
    assert cls == "warn" and "1 of 2 models doubtful: b (ESS 300)" in line


def test_headline_takes_the_total_effect_and_the_study_adjustment():
    tables = _tables(2)
    effects = tables["effects"]
    pre = effects[effects["scale"] == "probability"]
    pre = pre.assign(adjustment="pre_residence", model=pre["model"] + "_pre", mean=-99.0)
    head = headline_effects(pd.concat([effects, pre]))
    assert set(head["effect"]) == {"unconditional"} and set(head["adjustment"]) == {"study"}
    assert len(head) == 2 * len(LEVELS) and (head["mean"] > -50).all()
    # the conditional rows (shifted by +50) are not the headline
    assert head.loc[head["outcome"] == "contact", "mean"].max() < 40
    assert (head["reference_level_p"] == 31.0).all()


def test_findings_sentences_name_the_clear_contrasts_largest_first():
    head = pd.DataFrame([
        {"model": "m", "outcome": "gossip", "contrast": f"{lv} - HZ", "level": lv,
         "unit": "percentage points", "event": "P(gossip = 1)", "reference_level_p": 23.0,
         "mean": m, "q05": lo, "q95": hi, "p_positive": p}
        for lv, m, lo, hi, p in (("RB", 6.8, 0.9, 11.8, 0.97), ("RR", -9.1, -15.0, -3.2, 0.01),
                                 ("GG", 1.0, -3.0, 5.0, 0.62))])
    ((outcome, text),) = findings_sentences(head)
    assert outcome == "gossip"
    assert "RR -9.1 [-15.0, -3.2] (0.99), RB +6.8 [+0.9, +11.8] (0.97)" in text
    assert "(P(gossip = 1); HZ 23%; pp vs HZ)" in text and "1 other unclear" in text
    ((_, none),) = findings_sentences(head[head["level"] == "GG"])
    assert "none differs clearly (largest GG +1.0 [-3.0, +5.0])" in none


def test_tables_are_rounded_by_their_uncertainty_and_have_no_nan():
    frame = pd.DataFrame({"contrast": ["RB - HZ", "GG - HZ"], "mean": [6.81234, 0.312345],
                          "sd": [2.93, 0.1234], "q05": [0.912, 0.1], "q95": [11.83, np.nan],
                          "p_positive": [np.nan, np.nan], "divergences": [0, 3],
                          "elpd_loo": [-2743.21, -2750.9], "note": [None, "x"],
                          "max_r_hat": [1.0066, 1.0]})
    out = present(frame)
    assert list(out["mean"]) == ["6.8", "0.31"] and list(out["sd"]) == ["2.9", "0.12"]
    assert "P(>0)" not in out.columns  # a column that applies to no row is left out
    assert list(out["95%"]) == ["11.8", "\u2013"] and list(out["note"]) == ["\u2013", "x"]
    assert list(out["divergences"]) == ["0", "3"]
    assert list(out["elpd (PSIS-LOO)"]) == ["-2,743.2", "-2,750.9"]
    assert list(out["max R-hat"]) == ["1.007", "1.000"]  # not "1.01": the threshold
    assert not out.isin(["nan", "None", "NaN"]).any().any()
    assert decimals_for(2.9) == 1 and decimals_for(0.012) == 3 and decimals_for(45.0) == 0


def test_methods_text_is_written_from_the_run():
    paras, refs = _methods()
    text = methods_markdown(paras, refs, title="Q")
    assert "simulated: 2,963 tenants in 470 complexes within 7 living forms" in text
    assert "random intercepts for complexes, and living form effects partially pooled" in text
    assert "complex non-centred" in text
    assert "4 chains of 1,000 warm-up and 1,000 retained draws" in text
    assert "draw_diag" in text and "R-hat (ok \u2264 1.01" in text
    assert "Normal(0, 1.5)" in text and "Bernoulli, logit link" in text
    assert any("PyMC" in r for r in refs) and any("Bambi" in r for r in refs)
    assert re.search(r"pymc \d+\.\d+", text)  # versions of this environment


def _chromium(path, tmp_path, *extra):
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
            *extra]
    return subprocess.run([*args, path.as_uri()], capture_output=True, text=True, timeout=120,
                          check=True).stdout


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="headless Chromium not installed (.ci/run installs it)")
def test_report_renders_the_answer_on_the_first_screen(tmp_path):
    """At 1400 x 900 the headline figure and the findings are inside the first screen, no
    table cell reads nan, every image decodes and the methods text is there."""
    assert CHROMIUM is not None, "CI must install chromium (see .ci/run)"
    path = tmp_path / "report.html"
    path.write_text(_report(len(OUTCOMES)), encoding="utf-8")
    dom = _chromium(path, tmp_path, "--window-size=1400,900", "--dump-dom")
    decoded = re.search(r'data-images-decoded="(\d+)/(\d+)"', dom)
    assert decoded, "the load script did not run"
    assert decoded[1] == decoded[2] == "3", decoded[0]
    first = re.search(r'data-first-screen="([^"]*)"', dom)[1]
    assert "headline-figure:yes" in first and "findings-list:yes" in first, first
    assert re.search(r'data-nan-cells="(\d+)"', dom)[1] == "0"
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    assert "Methods (from this run" in dom and "[pymc] Abril-Pla" in dom
    shot = tmp_path / "shot.png"
    _chromium(path, tmp_path, "--window-size=1400,900", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas


def test_sections_with_nothing_to_show_are_left_out():
    """A generic run without a focal level or a simulator's truth: no empty sections."""
    tables = {"diagnostics": _tables()["diagnostics"],
              "effects": pd.DataFrame(columns=["model", "contrast", "scale"])}
    text = build_report(title="Wine", source="wine.csv", tables=tables, figures={})
    for absent in ("effects", "findings", "recovery", "population", "methods",
                   "headline-figure"):
        assert f'id="{absent}"' not in text
    for present_ in ("answer", "flags", "data", "convergence", "ppc", "loo", "sensitivity"):
        assert f'id="{present_}"' in text


def test_report_prior_sensitivity_section():
    tables = _tables()
    tables["psense"] = pd.DataFrame([
        {"model": "contact", "parameter": "beta[female]", "prior": 0.01, "likelihood": 0.3,
         "diagnosis": "ok"},
        {"model": "contact", "parameter": "sd_living_form", "prior": 0.2, "likelihood": 0.01,
         "diagnosis": "strong prior / weak likelihood"},
        {"model": "gossip", "parameter": "beta[female]", "prior": 0.0, "likelihood": 0.2,
         "diagnosis": "ok"}])
    tables["sensitivity"] = pd.DataFrame([{"model": "contact", "setting": "sd_wide",
                                           "parameter": "RB - HZ", "shift": 0.4}])
    figures = {"sensitivity": [("contact: power-scaled (not drawn: KeyError: 'x')", None)]}
    text = build_report(title="t", source="s", tables=tables, figures=figures)
    section = text[text.index('id="sensitivity"'):text.index('id="ppc"')]
    assert "Flagged parameters (1)" in section
    assert "sd_living_form" in section and "strong prior / weak likelihood" in section
    assert "contact: 1 of 2 parameters flagged" in section
    assert "gossip: 0 of 1 parameters flagged" in section
    assert "not drawn: KeyError" in section and "data:image/png" not in section
    assert "Refits under a grid of priors" in section and "sd_wide" in section
    without = build_report(title="t", source="s", tables=_tables(), figures={})
    assert "not computed" in without[without.index('id="sensitivity"'):]


def test_report_shows_the_rope_widths_beside_the_findings():
    """The equivalence claims over several ROPE widths (findings_rope.csv) are in the
    findings section, after the verdict legend and the claims."""
    import xarray as xr

    from data.findings import Equivalence
    from diagnostics.findings import rope_sensitivity

    draws = xr.DataArray(0.15 + np.random.default_rng(0).normal(0, 0.002, (200, 3)),
                         dims=("sample", "living_form"), coords={"living_form": ["a", "b", "c"]})
    tables = _tables(3)
    tables["findings_rope"] = rope_sensitivity(
        {"lonely": (draws, True, 0.36)},
        equivalences=[Equivalence("lonely", "loneliness: little difference")])
    text = build_report(title="Test report", source="unit test", tables=tables, figures={},
                        groups=GROUPS, methods=_methods())
    findings = text[text.index('id="findings"'):text.index('id="sensitivity"')]
    rope = findings[findings.index('id="table-findings_rope"'):]
    assert rope.count("<tr>") == 1 + 4 * 4  # header + widths x (claim + 3 pairs)
    assert '<td class="ok">equivalent</td>' in rope


def test_first_screen_says_simulated_conclusions_restate_the_truth():
    """On simulated data (a truth to recover: ``coverage``) the first screen says that the
    conclusions restate the simulator's built-in truth; on real data it does not."""
    from markupsafe import escape

    from diagnostics.report import SIMULATED_NOTE

    tables = _tables(3)
    text = build_report(title="t", source="s", tables=tables, figures={})
    answer = text[text.index('id="answer"'):text.index("</section>")]
    assert str(escape(SIMULATED_NOTE)) in answer and "data/truth.py" in answer
    real = {k: v for k, v in tables.items() if k != "coverage"}
    text = build_report(title="t", source="s", tables=real, figures={})
    assert "restate the truth" not in text
    assert "restate the truth" in build_report(title="t", source="s", tables=real,
                                               figures={}, simulated=True)
