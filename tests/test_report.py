"""The HTML report: content from tables, and rendering in a real (headless) browser."""

import os
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from diagnostics.plots import forest_figure  # noqa: E402
from diagnostics.report import SECTIONS, build_report, figure_png  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _tables():
    diagnostics = pd.DataFrame([
        {"model": "contact", "verdict": "ok", "reason": "all checks passed"},
        {"model": "gossip", "verdict": "fail", "reason": "3 divergent transition(s)"}])
    effects = pd.DataFrame([
        {"model": m, "outcome": m, "contrast": f"{f} - HZ", "scale": "latent", "mean": 0.3,
         "sd": 0.1, "q05": 0.1, "q95": 0.5, "verdict": v}
        for m, v in (("contact", "ok"), ("gossip", "fail")) for f in ("GG", "RB")])
    probability = effects.assign(scale="probability", mean=4.0, q05=1.0, q95=7.0)
    estimands = pd.DataFrame([
        {"outcome": "friendly_contact", "contrast": "RB - HZ", "effect": e, "adjustment": a,
         "model": m, "mean": mean, "q05": mean - 3, "q95": mean + 3}
        for e, a, m, mean in (("conditional", "study", "friendly_contact", 12.0),
                              ("total", "study", "friendly_contact__total", 15.5))])
    return {"diagnostics": diagnostics, "effects": pd.concat([effects, probability]),
            "estimands": estimands,
            "findings": pd.DataFrame([{"outcome": "contact", "parameter": "RB - HZ",
                                       "verdict": "supported"}]),
            "coverage": pd.DataFrame([{"model": "contact", "covered": 9, "n": 10}])}


def _report():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    tables = _tables()
    figures = {"effects": [("forest", figure_png(forest_figure(tables["effects"])))],
               "ppc": [("a line", figure_png(fig))]}
    return build_report(title="Test report", source="unit test", tables=tables,
                        figures=figures)


def test_report_flags_failed_model_at_the_top():
    text = _report()
    estimands = text[text.index('id="estimands"'):text.index('id="ppc"')]
    assert "+15.5 [+12.5, +18.5]" in estimands and "total, study" in estimands
    flags = text.index('id="flags"')
    assert text.index("gossip", flags) < text.index('id="data"')
    assert "3 divergent transition(s)" in text
    for section in SECTIONS:
        assert f'id="{section}"' in text
    assert text.count("data:image/png;base64,") == 2


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="headless Chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    assert CHROMIUM is not None, "CI must install chromium (see .ci/run)"
    path = tmp_path / "report.html"
    path.write_text(_report(), encoding="utf-8")
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*args, "--dump-dom", path.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    decoded = re.search(r'data-images-decoded="(\d+)/(\d+)"', dom)
    assert decoded, "the load script did not run"
    assert decoded[1] == decoded[2] == "2", decoded[0]
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*args, "--window-size=1200,900", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas


def test_sections_with_nothing_to_show_are_left_out():
    """A generic run without a focal level or a simulator's truth: no empty sections."""
    tables = {"diagnostics": _tables()["diagnostics"],
              "effects": pd.DataFrame(columns=["model", "contrast", "scale"])}
    text = build_report(title="Wine", source="wine.csv", tables=tables, figures={})
    for absent in ("effects", "probability", "findings", "recovery"):
        assert f'id="{absent}"' not in text
    for present in ("flags", "data", "convergence", "ppc", "loo", "sensitivity"):
        assert f'id="{present}"' in text


def test_report_prior_sensitivity_section():
    tables = _tables()
    tables["psense"] = pd.DataFrame([
        {"model": "contact", "parameter": "beta[female]", "prior": 0.01, "likelihood": 0.3,
         "diagnosis": "ok"},
        {"model": "contact", "parameter": "sd_living_form", "prior": 0.2, "likelihood": 0.01,
         "diagnosis": "strong prior / weak likelihood"},
        {"model": "gossip", "parameter": "beta[female]", "prior": 0.0, "likelihood": 0.2,
         "diagnosis": "ok"}])
    figures = {"sensitivity": [("contact: power-scaled (not drawn: KeyError: 'x')", None)]}
    text = build_report(title="t", source="s", tables=tables, figures=figures)
    section = text[text.index('id="sensitivity"'):text.index('id="findings"')]
    assert 'id="recovery"' in text
    assert "Flagged parameters (1)" in section
    assert "sd_living_form" in section and "strong prior / weak likelihood" in section
    assert "contact: 1 of 2 parameters flagged" in section
    assert "gossip: 0 of 1 parameters flagged" in section
    assert "not drawn: KeyError" in section and "data:image/png" not in section
    without = build_report(title="t", source="s", tables=_tables(), figures={})
    assert "not computed" in without[without.index('id="sensitivity"'):]
