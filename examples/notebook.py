# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The workbench from a notebook
#
# Pupils nested in classes nested in schools (a made-up data set, `examples/pupils.csv`):
# do schools differ once we control for who attends them? The same model twice -- from the
# bundled config and from an lme4-style formula -- then its effects, a plot and the report.
# Open it as a notebook with `jupytext --to ipynb examples/notebook.py`, or run it as a
# script: `uv run python examples/notebook.py` (quick settings: about a minute).

# %%
import os
from pathlib import Path

import clusterwonen as cw

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path("examples")
OUT = Path(os.environ.get("NOTEBOOK_OUT", "results/notebook"))
# quick settings (a smoke run); leave them out for the real thing
SETTINGS = {"draws": int(os.environ.get("NOTEBOOK_DRAWS", 250)),
            "tune": int(os.environ.get("NOTEBOOK_DRAWS", 250)), "chains": 2, "seed": 1}

# %% [markdown]
# ## Fit the config's score model
# `fit` runs exactly what `run_models.py fit --config examples/pupils.toml` runs and returns
# the run folder as tables (DataFrames) and fits (xarray DataTrees).

# %%
run = cw.fit(HERE / "pupils.toml", outcomes="score", out=OUT / "config", **SETTINGS)
run.diagnostics[["model", "verdict"]]

# %% [markdown]
# ## The same model as a formula
# The focal level (whose contrasts are the estimand) and the family stay keywords.

# %%
formula = "score ~ girl + scale(homework_hours) + C(ses) + (1 | school/class_id)"
same = cw.fit(formula, data=HERE / "pupils.csv", family="gaussian", focal="school",
              reference="S1", out=OUT / "formula", **SETTINGS)
same.summary.head()

# %% [markdown]
# ## The effects: every school against S1

# %%
effects = run.effects
effects[["model", "contrast", "scale", "mean", "q05", "q95", "p_positive"]]

# %% [markdown]
# ## A plot with arviz-plots, from the saved DataTree

# %%
import arviz_plots as azp  # noqa: E402

tree = run.trees["score"]
pc = azp.plot_forest(tree, var_names=["school_contrast"], backend="matplotlib")
pc.savefig(OUT / "school_contrasts.png")

# %% [markdown]
# ## Load a finished run back, rebuild its report

# %%
again = cw.load_run(OUT / "config")
assert again.effects.equals(run.effects)
print(again.report())
