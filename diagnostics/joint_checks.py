"""Checks of the joint two-part models (:mod:`models.joint`), as every single model has.

The joint models feed the headline (the unconditional effect of friendly contact and of
participation), so they get what every other fit gets:

* **pointwise log-likelihood per tenant** -- the gate's answer and, where the gate is open
  and the part was answered, the part's, at the fitted complex effects -- for PSIS-LOO, and
  the same tenants scored by the two separate models (their leave-one-out predictive
  factorises, so a tenant's separate elpd is the sum of the two models' pointwise elpd):
  ``elpd_diff_vs_separate`` says what the correlated complex effects add;
* **posterior predictive checks of the joint event** (gate open *and* the part's event, the
  event the headline reads): its share overall and per focal level, and the spread of the
  complex means of the joint event replicated with *new* correlated complex effects drawn
  from the fitted covariance -- the part of the model the parts' own checks cannot see;
* **power-scaling prior sensitivity** of the joint parameters (the correlation's LKJ prior
  included), from the pointwise log-likelihood and the joint model's log prior.

Pure functions; nothing is written.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from diagnostics.ppc import PPP_BOUNDS, _row
from models.design import ModelData

__all__ = ["joint_event_replicates", "joint_loo_row", "joint_pointwise", "joint_ppc_table",
           "joint_psense_tree", "posterior_subset"]


def _draws(tree: xr.DataTree, name: str) -> np.ndarray:
    """``(S, ...)``: chains and draws stacked."""
    v = tree["posterior"][name]
    return v.stack(sample=("chain", "draw")).transpose("sample", ...).values


def _complex_effects(tree: xr.DataTree, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The fitted correlated complex effects of both parts, ``(S, n_complex)`` each."""
    z = _draws(tree, f"z_{key}")  # (S, C, 2)
    sd, rho = _draws(tree, f"sd_{key}"), _draws(tree, f"corr_{key}")[:, 0]
    u1 = sd[:, :1] * z[:, :, 0]
    u2 = sd[:, 1:] * (rho[:, None] * z[:, :, 0] + np.sqrt(1 - rho[:, None] ** 2) * z[:, :, 1])
    return u1, u2


def _part_eta(tree, spec, X: np.ndarray, focal_idx: np.ndarray, u: np.ndarray,
              complex_idx: np.ndarray) -> np.ndarray:
    """``(S, n)``: the part's linear predictor without intercept or thresholds."""
    fkey = spec.level_key(spec.focal)
    beta = _draws(tree, f"{spec.name}::beta")
    effect = _draws(tree, f"{spec.name}::{fkey}_effect")
    return beta @ X.T + effect[:, focal_idx] + u[:, complex_idx]


def _category_probs(tree, spec, eta: np.ndarray) -> np.ndarray:
    """``(S, n, K)``: every category's probability (K = 2 for a binary part)."""
    from scipy.special import expit

    if spec.family == "bernoulli":
        p1 = expit(eta + _draws(tree, f"{spec.name}::intercept")[:, None])
        return np.stack([1 - p1, p1], axis=-1)
    tau = _draws(tree, f"{spec.name}::thresholds")  # (S, K-1)
    below = expit(tau[:, None, :] - eta[:, :, None])  # P(y <= k), (S, n, K-1)
    below = np.concatenate([np.zeros_like(eta)[..., None], below,
                            np.ones_like(eta)[..., None]], axis=-1)
    return np.clip(np.diff(below, axis=-1), 1e-300, 1.0)


def _rows_of(d: ModelData, spec) -> tuple[np.ndarray, np.ndarray]:
    """Each row's focal-level and random-level index."""
    return d.level_idx[spec.focal], d.level_idx[spec.random_levels[0]]


def joint_pointwise(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData) -> xr.DataArray:
    """Log-likelihood of each gate row (tenant) in the joint model, per draw:
    ``log p(y1_i) + [i answered the part] log p(y2_i)``, dims ``(chain, draw, tenant)``."""
    gate, part = joint.parts
    key = gate.level_key(joint.level)
    u1, u2 = _complex_effects(tree, key)
    f1, c1 = _rows_of(d1, gate)
    f2, c2 = _rows_of(d2, part)
    p1 = _category_probs(tree, gate, _part_eta(tree, gate, d1.X, f1, u1, c1))
    p2 = _category_probs(tree, part, _part_eta(tree, part, d2.X, f2, u2, c2))
    y1, y2 = np.asarray(d1.y, int), np.asarray(d2.y, int)
    ll = np.log(np.take_along_axis(p1, y1[None, :, None], axis=-1)[..., 0])  # (S, n1)
    ll2 = np.log(np.take_along_axis(p2, y2[None, :, None], axis=-1)[..., 0])  # (S, n2)
    where = {rid: i for i, rid in enumerate(d1.row_ids)}
    rows = np.array([where[r] for r in d2.row_ids])
    np.add.at(ll.T, rows, ll2.T)
    post = tree["posterior"]
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    return xr.DataArray(ll.reshape(n_chain, n_draw, -1), dims=("chain", "draw", "tenant"),
                        coords={"tenant": list(d1.row_ids)}, name="y")


def _pointwise_elpd(log_lik: xr.DataArray,
                    posterior: xr.Dataset) -> tuple[np.ndarray, int, float]:
    """PSIS-LOO pointwise elpd, the number of Pareto k > 0.7, and p_loo (the relative
    efficiency of the draws from ``posterior``)."""
    from arviz_stats import loo

    tree = xr.DataTree.from_dict({"posterior": posterior,
                                  "log_likelihood": xr.Dataset({"y": log_lik})})
    with warnings.catch_warnings():  # high Pareto k is counted in the table instead
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        out = loo(tree, pointwise=True)
    return (np.asarray(out.elpd_i).ravel(), int((np.asarray(out.pareto_k) > 0.7).sum()),
            float(out.p))


def joint_loo_row(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData,
                  separate: dict | None = None) -> dict:
    """PSIS-LOO of the joint model per tenant, and -- with ``separate`` (the gate's and the
    part's own fits by spec name, each with a ``log_likelihood`` group over the same rows) --
    the paired elpd difference joint minus separate parts, with its standard error."""
    pointwise = joint_pointwise(tree, joint, d1, d2)
    elpd_i, bad, p_loo = _pointwise_elpd(pointwise, tree["posterior"].to_dataset())
    row = {"model": joint.name, "elpd_loo": float(elpd_i.sum()),
           "se": float(np.sqrt(len(elpd_i)) * np.std(elpd_i)), "p_loo": p_loo,
           "pareto_k_bad": bad, "note": "joint likelihood per tenant (gate and part)"}
    gate, part = joint.parts
    if separate and {gate.name, part.name} <= set(separate):
        sep = {}
        for spec, d in ((gate, d1), (part, d2)):
            ll = separate[spec.name]["log_likelihood"]["y"]
            ll = ll.rename({ll.dims[-1]: "tenant"}).assign_coords(tenant=list(d.row_ids))
            own = separate[spec.name]["posterior"].to_dataset()
            sep[spec.name] = pd.Series(_pointwise_elpd(ll, own)[0], index=list(d.row_ids))
        total = sep[gate.name].add(sep[part.name], fill_value=0.0).reindex(list(d1.row_ids))
        diff = elpd_i - total.to_numpy()
        row |= {"elpd_diff_vs_separate": float(diff.sum()),
                "diff_se": float(np.sqrt(len(diff)) * np.std(diff))}
    return row


def _new_effects(tree, key: str, n_complex: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Correlated complex effects of *new* complexes from the fitted covariance, per draw."""
    sd, rho = _draws(tree, f"sd_{key}"), _draws(tree, f"corr_{key}")[:, 0]
    z = rng.standard_normal((len(sd), n_complex, 2))
    u1 = sd[:, :1] * z[:, :, 0]
    u2 = sd[:, 1:] * (rho[:, None] * z[:, :, 0] + np.sqrt(1 - rho[:, None] ** 2) * z[:, :, 1])
    return u1, u2


def _sample(probs: np.ndarray, rng) -> np.ndarray:
    """One category per ``(S, n)`` cell from ``(S, n, K)`` probabilities."""
    cum = np.cumsum(probs, axis=-1)
    return (rng.random(probs.shape[:-1])[..., None] > cum[..., :-1]).sum(axis=-1)


def _part_event(part, d2: ModelData, part_event: int | None) -> int:
    """The part's event code: ``part_event``, default its top category (1 if binary)."""
    if part.family != "cumulative":
        return 1
    return len(d2.categories) - 1 if part_event is None else part_event


def _open_codes(gate, d1: ModelData, joint) -> list[int]:
    """The gate's codes that open the part."""
    return [list(d1.categories).index(c) if gate.family == "cumulative" else int(c)
            for c in joint.open_categories]


def _joint_replicator(sub: xr.DataTree, joint, d1: ModelData, d2: ModelData,
                      X2: np.ndarray, rng, event: int):
    """``replicate(u1, u2) -> (S, n)``: the joint event of every gate row replicated from
    the draws ``sub`` at complex effects ``u1``, ``u2`` (gate and part); ``X2`` the part's
    design over the gate rows (:func:`models.joint.part_design`)."""
    gate, part = joint.parts
    f1, c1 = _rows_of(d1, gate)
    open_codes = _open_codes(gate, d1, joint)
    med = d2.term_names.index(joint.mediator) if joint.mediator else None
    code_of = dict(zip(open_codes, joint.open_categories, strict=True))

    def replicate(u1, u2):
        p1 = _category_probs(sub, gate, _part_eta(sub, gate, d1.X, f1, u1, c1))
        y1_rep = _sample(p1, rng)  # (S, n)
        joint_rep = np.zeros(y1_rep.shape)
        for code in open_codes:
            X = X2.copy()
            if med is not None:
                X[:, med] = joint.mediator_values[code_of[code]]
            p2 = _category_probs(sub, part, _part_eta(sub, part, np.nan_to_num(X), f1, u2,
                                                      c1))
            y2_rep = _sample(p2, rng)
            joint_rep += (y1_rep == code) & (y2_rep == event)
        return joint_rep

    return replicate


def joint_ppc_table(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData,
                    frame: pd.DataFrame, *, max_draws: int = 400, seed: int = 0,
                    part_event: int | None = None,
                    observed: np.ndarray | None = None) -> pd.DataFrame:
    """Observed vs replicated statistics of the joint event (gate open and the part's event,
    default its top category): share overall and per focal level at the fitted complex
    effects (check ``joint event``), and the SD of the complex means of the joint event
    with new complex effects (``joint between-group spread``), overall and per level.

    The rows are the gate's with complete part covariates that either have a closed gate
    or answered the part. Columns as :func:`diagnostics.ppc.ppc_table`'s, with ``model``
    and ``verdict`` (``misfit`` outside :data:`diagnostics.ppc.PPP_BOUNDS`).
    ``observed``: a joint event (0/1) per gate row to check instead of the data's -- a
    planted world, e.g. one of :func:`joint_event_replicates` of another posterior.
    """
    from models.joint import part_design

    gate, part = joint.parts
    key = gate.level_key(joint.level)
    rng = np.random.default_rng(seed)
    n_total = tree["posterior"].sizes["chain"] * tree["posterior"].sizes["draw"]
    take = np.sort(rng.choice(n_total, size=min(max_draws, n_total), replace=False))
    sub = posterior_subset(tree, take)
    X2, keep = part_design(joint, frame, d1, d2)
    f1, c1 = _rows_of(d1, gate)
    event = _part_event(part, d2, part_event)
    answered = pd.Series(np.asarray(d2.y, int), index=list(d2.row_ids))
    y2_obs = answered.reindex(list(d1.row_ids)).to_numpy()
    gate_open = np.isin(np.asarray(d1.y, int), _open_codes(gate, d1, joint))
    use = keep & (~gate_open | ~np.isnan(y2_obs))
    if observed is None:
        observed = (gate_open & (np.nan_to_num(y2_obs, nan=-1) == event)).astype(float)
    observed = np.asarray(observed, float)
    replicate = _joint_replicator(sub, joint, d1, d2, X2, rng, event)
    fitted = replicate(*_complex_effects(sub, key))
    fresh = replicate(*_new_effects(sub, key, len(d1.level_labels[joint.level]), rng))
    forms = list(d1.level_labels[gate.focal])
    rows = []
    for name, mask in [("all", use)] + [(f"{gate.focal}={lab}", use & (f1 == k))
                                        for k, lab in enumerate(forms)]:
        if mask.sum() < 5:
            continue
        rows.append(_row("joint event", name, "share", float(observed[mask].mean()),
                         fitted[:, mask].mean(axis=1)))
        rows.append(_row("joint between-group spread", name, "sd of complex means",
                         _spread(observed[None, mask], c1[mask])[0],
                         _spread(fresh[:, mask], c1[mask])))
    out = pd.DataFrame(rows)
    out.insert(0, "model", joint.name)
    out["verdict"] = np.where(out["ppp"].between(*PPP_BOUNDS), "ok", "misfit")
    return out


def joint_event_replicates(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData,
                           frame: pd.DataFrame, *, seed: int = 0,
                           part_event: int | None = None) -> np.ndarray:
    """``(S, n)``: the joint event of every gate row replicated from each draw of ``tree``
    with *new* complex effects -- data from the model, as the spread check replicates them
    (a planted world for the checks)."""
    from models.joint import part_design

    gate, part = joint.parts
    rng = np.random.default_rng(seed)
    n_total = tree["posterior"].sizes["chain"] * tree["posterior"].sizes["draw"]
    sub = posterior_subset(tree, np.arange(n_total))
    replicate = _joint_replicator(sub, joint, d1, d2, part_design(joint, frame, d1, d2)[0],
                                  rng, _part_event(part, d2, part_event))
    return replicate(*_new_effects(sub, gate.level_key(joint.level),
                                   len(d1.level_labels[joint.level]), rng))


def posterior_subset(tree: xr.DataTree, take: np.ndarray) -> xr.DataTree:
    """The posterior at the stacked (chain, draw) positions ``take`` (repeats allowed), as
    one chain of ``len(take)`` draws."""
    post = tree["posterior"].to_dataset().stack(sample=("chain", "draw")).isel(sample=take)
    post = post.drop_vars(["chain", "draw", "sample"]).rename({"sample": "draw"}) \
        .expand_dims(chain=[0]).assign_coords(draw=np.arange(len(take))) \
        .transpose("chain", "draw", ...)
    return xr.DataTree.from_dict({"posterior": post})


def _spread(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per row of ``values`` (S, n): the SD of the group means over groups with >= 2 rows."""
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    big = counts >= 2
    sums = np.zeros((values.shape[0], len(labels)))
    np.add.at(sums.T, inverse, values.T)
    means = sums[:, big] / counts[big]
    return means.std(axis=1)


def joint_psense_tree(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData) -> xr.DataTree:
    """The joint fit with ``log_likelihood`` (per tenant, :func:`joint_pointwise`) and
    ``log_prior`` (every prior term of the joint model, the correlation's LKJ included)
    groups, for :func:`diagnostics.sensitivity.psense_table`."""
    import pymc as pm

    from models.joint import build_joint_model

    out = tree.copy()
    out["log_likelihood"] = xr.Dataset({"y": joint_pointwise(tree, joint, d1, d2)})
    model = build_joint_model(joint, d1, d2)
    with model:
        pm.stats.compute_log_prior(out, extend_inferencedata=True, progressbar=False)
    return out
