"""The workbench from Python: fit a config or a formula, load any finished run back.

A small facade over the layers (``data/``, ``models/``, ``inference/``, ``diagnostics/``,
``workflows/``), for notebooks::

    import clusterwonen as cw

    run = cw.fit("examples/pupils.toml", quick=True, out="results/pupils")
    run.effects                      # DataFrame: the focal contrasts, latent and outcome scale
    run.trees["score"]               # xarray DataTree of one model's fit
    run.report()                     # rebuilds report.html, returns its path

    run = cw.fit("score ~ girl + scale(homework_hours) + (1 | school/class_id)",
                 data="examples/pupils.csv", focal="school", reference="S1", quick=True)
    old = cw.load_run("results/pupils")

:func:`fit` runs exactly what ``run_models.py fit`` runs (the same workflow, the same run
folder), so a run made here and one made on the command line with the same settings and
seed hold the same tables; :func:`compare`, :func:`sensitivity` and :func:`concepts` run
those commands the same way. Settings are the command-line options as keywords
(``draws=200``, ``chains=2``, ``quick=True``, ``target_accept=0.95``, ``outcomes="score"``).
"""

from __future__ import annotations

from inference.cache import use_project_cache

use_project_cache()  # as run_models.py: before PyTensor is imported (inference/cache.py)

from clusterwonen.command import FitError, run_command  # noqa: E402
from clusterwonen.run import Run, load_run  # noqa: E402
from clusterwonen.runner import compare, concepts, fit, sensitivity  # noqa: E402

__all__ = ["FitError", "Run", "compare", "concepts", "fit", "load_run", "run_command",
           "sensitivity"]
