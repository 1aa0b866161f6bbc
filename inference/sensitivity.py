"""Refit-based prior sensitivity: every model under every named prior setting, as Dask tasks.

Each task fits one (model, prior) pair on the full data and returns only the living-form
contrasts (latent and probability scale), the convergence verdict and its timing. Prior
hyperparameters are ``pm.Data`` in the compiled graph, so a worker compiles each model
structure once and every further prior setting is a ``with_data`` swap (only a Student-t
coefficient prior changes the graph and compiles once more).

The joint two-part models (:mod:`models.joint`) are refitted under the same grid, each
setting applied to both parts, and under the correlation's prior as well: LKJ ``eta`` at
half and twice its value (:func:`joint_prior_grid`); their tasks return each part's
latent contrasts, the total-effect contrasts (percentage points) and the correlation of
the parts' complex effects.
"""

from __future__ import annotations

import pandas as pd

from inference.engine import SamplerSettings
from inference.parallel import Task, fingerprint, worker_engine
from models.design import ModelData
from models.spec import DEFAULT_PRIORS, ModelSpec

__all__ = ["LKJ_FACTORS", "grid_rows", "grid_task", "grid_tasks", "joint_grid_task",
           "joint_grid_tasks", "joint_prior_grid"]

# the correlation prior's settings in a joint model's grid: its eta times these factors
# (default 2: eta 1, uniform over correlations, and eta 4, pulled towards 0)
LKJ_FACTORS = (0.5, 2.0)


def grid_tasks(specs: dict[str, ModelSpec], grid: dict[str, dict], *,
               settings: SamplerSettings, data_hashes: dict[str, str]) -> list[Task]:
    """One task per model and prior setting, model by model (compiled models get reused)."""
    tasks = []
    for name, spec in specs.items():
        for prior, values in grid.items():
            variant = spec.with_(priors=values)
            fp = fingerprint(variant.to_json(), settings.to_json(), data_hashes[name])
            tasks.append(Task(key=f"{name}--{prior}", fingerprint=fp,
                              kwargs={"spec": variant, "prior": prior, "model": name}))
    return tasks


def grid_task(*, spec: ModelSpec, prior: str, model: str, datas: dict[str, ModelData],
              settings: SamplerSettings) -> dict:
    """Fit one model under one prior setting; return contrast summaries (JSON-ready)."""
    from diagnostics.effects import probability_effects
    from diagnostics.summary import draws_table

    engine = worker_engine()
    data = datas[model]
    tree = engine.fit(spec, data, settings)
    timing = engine.timings[-1]
    rows = []
    if spec.focal and spec.variant != "none":
        da = tree["posterior"][f"{spec.level_key(spec.focal)}_contrast"]
        stats = draws_table({str(label): da.sel(contrast=label).to_numpy().ravel()
                             for label in da["contrast"].to_numpy()})
        rows += [{"scale": "latent", "contrast": label, **r}
                 for label, r in stats.to_dict("index").items()]
        if spec.family_impl.has_event_prediction:
            prob = probability_effects(tree, spec, data, estimand="new_complex")
            prob = prob[prob["contrast"].str.endswith(f" - {spec.reference}")]
            rows += prob[["scale", "contrast", "mean", "sd", "q05", "q95"]].to_dict("records")
    return _task_result(model, prior, rows, tree, timing, spec.prior)


def _task_result(model: str, prior: str, rows: list, tree, timing: dict, priors) -> dict:
    """What one refit of the grid returns: its rows, verdict, divergences and seconds."""
    from diagnostics.convergence import model_verdict

    verdict = model_verdict(tree, model=model).iloc[0]
    return {"model": model, "prior": prior, "rows": rows, "verdict": str(verdict["verdict"]),
            "reason": str(verdict["reason"]),
            "divergences": int(tree["sample_stats"]["diverging"].sum()),
            "compile_s": timing["compile_s"], "sample_s": timing["sample_s"],
            "total_s": timing["total_s"], "priors": priors}


def grid_rows(results: dict[str, dict]) -> pd.DataFrame:
    """Long table: model, prior, scale, contrast, mean, sd, q05, q95, verdict."""
    frames = [pd.DataFrame(r["rows"]).assign(model=r["model"], prior=r["prior"],
                                             verdict=r["verdict"])
              for r in results.values() if r["rows"]]
    cols = ["model", "prior", "scale", "contrast", "mean", "sd", "q05", "q95", "verdict"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def joint_prior_grid(grid: dict[str, dict], *,
                     eta: float = DEFAULT_PRIORS["lkj_eta"]) -> dict[str, dict]:
    """A joint model's grid: every setting of ``grid`` and the complex effects' correlation
    prior at ``eta`` times :data:`LKJ_FACTORS` (``lkj_eta_1``, ``lkj_eta_4`` around the
    default 2). A setting of ``grid`` that already varies ``lkj_eta`` is kept as it is."""
    out = {k: dict(v) for k, v in grid.items()}
    if any("lkj_eta" in v for v in grid.values()):
        return out
    for factor in LKJ_FACTORS:
        value = float(eta) * factor
        out[f"lkj_eta_{value:g}".replace(".", "p")] = {"lkj_eta": value}
    return out


def joint_grid_tasks(joints: dict, grid: dict[str, dict], *, settings: SamplerSettings,
                     data_hashes: dict[str, str]) -> list[Task]:
    """One task per joint model and setting of its grid (:func:`joint_prior_grid` around
    the gate's ``lkj_eta``); ``joints``: name -> :class:`models.joint.TwoPart`."""
    tasks = []
    for name, joint in joints.items():
        for prior, values in joint_prior_grid(grid, eta=joint.gate.prior["lkj_eta"]).items():
            variant = joint.with_priors(values)
            fp = fingerprint(variant.to_json(), settings.to_json(), data_hashes[name])
            tasks.append(Task(key=f"{name}--{prior}", fingerprint=fp,
                              kwargs={"joint": variant, "prior": prior, "model": name}))
    return tasks


def joint_grid_task(*, joint, prior: str, model: str, datas: dict, frame: pd.DataFrame,
                    settings: SamplerSettings) -> dict:
    """Fit one joint model under one prior setting: each part's latent contrasts
    (``<part>: <form> - <reference>``), the total-effect contrasts (probability scale,
    a new complex) and the correlation of the parts' complex effects (scale
    ``correlation``), JSON-ready as :func:`grid_task`'s."""
    from diagnostics.effects import total_effects
    from diagnostics.summary import draws_table

    engine = worker_engine()
    d1, d2 = datas[model]
    tree = engine.fit_joint(joint, d1, d2, settings)
    timing = engine.timings[-1]
    post = tree["posterior"]
    gate, part = joint.parts
    fkey, key = gate.level_key(gate.focal), gate.level_key(joint.level)
    series = {}
    for spec in (gate, part):
        da = post[f"{spec.name}::{fkey}_contrast"]
        series |= {f"{spec.name}: {label}": da.sel(contrast=label).to_numpy().ravel()
                   for label in da["contrast"].to_numpy()}
    rows = [{"scale": "latent", "contrast": label, **r}
            for label, r in draws_table(series).to_dict("index").items()]
    prob = total_effects(tree, joint, d1, d2, frame, estimand="new_complex")
    prob = prob[prob["contrast"].str.endswith(f" - {gate.reference}")]
    rows += prob[["scale", "contrast", "mean", "sd", "q05", "q95"]].to_dict("records")
    corr = draws_table({f"corr({gate.name}, {part.name}) of {joint.level}":
                        post[f"corr_{key}"].to_numpy().ravel()})
    rows += [{"scale": "correlation", "contrast": label, **r}
             for label, r in corr.to_dict("index").items()]
    return _task_result(model, prior, rows, tree, timing, gate.prior)
