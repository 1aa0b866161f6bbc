"""Leave-one-group-out predictive accuracy: how well a model predicts a *new complex*.

PSIS-LOO (:mod:`diagnostics.compare`) leaves out one tenant and keeps the complex's fitted
effect: it scores prediction for a new tenant in a known complex. The living-form question
is about new complexes, so the criteria here leave out whole groups of the lowest random
level (the complexes) and score the held-out group's answers *together*, with the group's
unknown effect integrated over its fitted distribution:

``log p(y_g | theta) = log  integral  prod_{i in g} p(y_i | eta_i(theta) + u) N(u; 0, sd^2) du``

(Gauss-Hermite quadrature, :data:`NODES` nodes per draw). Two estimates of the expected log
predictive density for a new group (``elpd_logo``) use it:

* **PSIS-LOGO** (:func:`psis_logo`): Pareto-smoothed importance sampling over the draws of the
  full fit with the group's marginal log-likelihood -- the integrated LOO of Merkle, Furr &
  Rabe-Hesketh (2019) applied per group. Cheap; reliable where Pareto k <= 0.7.
* **Grouped K-fold** (:mod:`inference.crossval`): refits without each fold's groups, then the
  held-out groups' log predictive density ``log mean_s p(y_g | theta_s)``. Exact, at K refits.

Both are summed over groups, with ``se = sqrt(G var(elpd_g))``; differences between models
of the same rows are paired per group (:func:`compare_pointwise`).
"""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from diagnostics.compare import PARETO_K_BAD, meaning
from models.design import ModelData
from models.families import Family
from models.item_response import marginal_log_likelihood
from models.spec import ModelSpec

__all__ = ["LOGO_DRAWS", "NODES", "PARETO_K_BAD", "compare_pointwise", "group_log_densities",
           "group_log_density",
           "item_curves", "latent_integrated_tree", "latent_scores", "loadings_comparison",
           "logo_level", "logo_summary", "paired_se", "pooled_by_group", "psis_logo",
           "quadrature_check",
           "thinned_draws", "unsupported_reason"]

NODES = 31  # Gauss-Hermite nodes over a held-out group's effect (accuracy: tests)
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(NODES)
_LOG_W = np.log(_GH_W / _GH_W.sum())


def paired_se(values: pd.Series) -> float:
    """SE of a sum of G pointwise values (or paired differences): ``sqrt(G var)``."""
    return float(np.sqrt(len(values) * values.var(ddof=1))) if len(values) > 1 else np.nan


def pooled_by_group(values: list[pd.Series]) -> pd.Series:
    """Pointwise values of several outcomes summed per group (e.g. per complex): the elpd
    of one model family over all of them, for a question they share (the link of every
    cumulative scale). A group missing from an outcome (outside its subset) adds 0 there;
    summing per group first keeps the outcomes' correlation within a complex in the SE."""
    if not values:
        raise ValueError("nothing to pool")
    return pd.concat(values, axis=1).fillna(0.0).sum(axis=1).sort_index()


def logo_level(spec: ModelSpec) -> str | None:
    """The level whose groups are left out: the lowest random level (``None``: none)."""
    return spec.random_levels[0] if spec.random_levels else None


def unsupported_reason(spec: ModelSpec) -> str | None:
    """Why leave-one-group-out is not computed for ``spec`` (``None``: it is)."""
    if not spec.random_levels:
        return "no random level to leave groups of out"
    if spec.slopes:
        return "varying slopes (a new group's slopes are not integrated here)"
    if type(spec.family_impl).log_density is Family.log_density:  # the base: None
        return (f"family {spec.family!r}: its rows share a latent the log density cannot "
                f"separate (PSIS-LOO per row is in loo.csv)")
    return None


def _fixed_part(spec: ModelSpec, data: ModelData, draws, level: str | None,
                rows: np.ndarray, n_draws: int | None = None):
    """``(eta (n_rows, S), draws)``: eta without the effect of ``level`` -- terms, focal
    effects (category-specific ones move the rows' thresholds in the returned ``draws``,
    :func:`diagnostics.effects.focal_part`), and the
    fitted effects of every other random level (``level=None``: of every one; ``n_draws``
    then says how many draws). Where ``level`` is centred on its parent
    (which it then absorbs in the model) the parent's fitted effect is added here, so that a
    new group is centred on it."""
    from diagnostics.effects import focal_part
    from models.build import centred_on_parent

    beta = draws("beta") if data.X.shape[1] else None
    S = draws(f"sd_{spec.level_key(level)}").shape[0] if level is not None else n_draws
    eta = data.X[rows] @ beta.T if beta is not None else np.zeros((len(rows), S))
    focal, draws = focal_part(spec, data, draws, rows)
    eta = eta + focal
    on_parent = centred_on_parent(spec, data)
    absorbed_by_other = {p for lv, p in on_parent.items() if lv != level}
    for lv in spec.random_levels:
        if lv == level or lv in absorbed_by_other:
            continue
        key = spec.level_key(lv)
        z = draws(f"z_{key}")
        u = z if data.centered(lv) else _group_sd(spec, data, draws, lv) * z
        eta = eta + u[:, data.level_idx[lv][rows]].T
    return eta, draws


def _group_sd(spec: ModelSpec, data: ModelData, draws, level: str) -> np.ndarray:
    """``(S, G)``: each group's SD of ``level`` per draw -- its focal level's own where the
    model has one SD per focal level (``sd_by_focal``), else the level's one SD."""
    sd = draws(f"sd_{spec.level_key(level)}")  # (S,), or (S, focal levels)
    if sd.ndim == 2:
        return sd[:, data.parent_idx[level]]
    return np.broadcast_to(sd[:, None], (sd.shape[0], len(data.level_labels[level])))


def _integrated(eta: np.ndarray, sd: np.ndarray, draws, log_density, *,
                chunk: int) -> np.ndarray:
    """``(S, G)``: ``log sum_q w_q exp(log_density(eta + sd x_q))`` by Gauss-Hermite.

    ``eta`` and ``sd`` are ``(n, S)``; ``log_density(lin, draws)`` takes ``lin`` ``(n, s, Q)``
    and the draws accessor of the same ``s`` draws and returns ``(G, s, Q)`` (a row, or a
    group's rows summed). Chunked over draws to bound memory.
    """
    out = None
    for start in range(0, eta.shape[1], chunk):
        sl = slice(start, start + chunk)

        def sub(name, sl=sl):
            return draws(name)[sl]
        lin = eta[:, sl, None] + sd[:, sl, None] * _GH_X[None, None, :]  # (n, s, Q)
        ld = log_density(lin, sub)  # (G, s, Q)
        if out is None:
            out = np.empty((eta.shape[1], ld.shape[0]))
        out[sl] = logsumexp(ld + _LOG_W[None, None, :], axis=2).T
    return out


def group_log_density(tree: xr.DataTree, spec: ModelSpec, data: ModelData, draws, *,
                      rows: np.ndarray | None = None, chunk: int = 100
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Marginal log-likelihood of each group's rows with its effect integrated out.

    ``draws`` is a ``name -> (S, ...)`` accessor (:func:`diagnostics.effects.posterior_draws`
    or :func:`thinned_draws`); ``rows`` (default all) the analysed rows scored. Returns the
    group indices ``(G,)`` (into ``data.level_labels[level]``) and ``(S, G)`` values.
    """
    reason = unsupported_reason(spec)
    if reason:
        raise ValueError(f"model {spec.name!r}: leave-one-group-out not available: {reason}")
    level = logo_level(spec)
    rows = np.arange(data.n) if rows is None else np.asarray(rows)
    family = spec.family_impl
    eta, draws = _fixed_part(spec, data, draws, level, rows)  # (n, S)
    sd = _group_sd(spec, data, draws, level)[:, data.level_idx[level][rows]].T  # (n, S)
    groups, inverse = np.unique(data.level_idx[level][rows], return_inverse=True)
    y = np.asarray(data.y)[rows]
    trials = None if data.trials is None else np.asarray(data.trials)[rows]

    def per_group(lin, sub):  # the sum of each group's rows per draw and node
        ld = family.log_density(lin, sub, y, trials)  # (n, s, Q)
        out = np.zeros((len(groups),) + ld.shape[1:])
        np.add.at(out, inverse, ld)
        return out
    out = _integrated(eta, sd, draws, per_group, chunk=chunk)
    return groups, out


def latent_integrated_tree(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                           max_draws: int = 1000, chunk: int = 50) -> xr.DataTree:
    """The fit's posterior (thinned) with a log-likelihood per *row*, the row's own latent
    integrated out: for PSIS-LOO of a family with a latent per row (the graded family's
    tenant trait measured by several items).

    ``log p(y_i | theta) = log integral prod_j p(y_ij | eta_i(theta) + u) N(u; 0, sd^2) du``
    by Gauss-Hermite quadrature (:data:`NODES` nodes), every random level's fitted effect in
    ``eta_i``. Leaving a row out then moves only the shared parameters: with the latent kept
    as a parameter, the row's answers alone pin it down and PSIS fails (Pareto k > 0.7 for
    about half the tenants) -- the integrated LOO of Merkle, Furr & Rabe-Hesketh (2019).
    A family whose likelihood integrates the latent out already (``graded``): the fit's own
    ``log_likelihood`` holds these values (thinned here, nothing recomputed); a tree without
    one (prior draws) gets them from the same quadrature in numpy
    (:func:`models.item_response.marginal_log_likelihood`).
    """
    family = spec.family_impl
    marginal = getattr(family, "marginal", False)
    if not hasattr(family, "latent_log_density"):
        raise ValueError(f"model {spec.name!r}: family {spec.family!r} has no latent per row")
    draws, post = thinned_draws(tree, max_draws=max_draws)
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    rows = np.arange(data.n)
    nodes = family.nodes if marginal else NODES
    own = tree["log_likelihood"]["y"] if "log_likelihood" in tree.children else None
    if marginal and own is not None and own.dims == ("chain", "draw", "obs"):
        # the fit's own log-likelihood is already per row with its latent integrated out
        out = own.sel(chain=post["chain"], draw=post["draw"]).values.reshape(n_draws, -1)
    elif marginal:  # e.g. prior draws: the same quadrature in numpy
        eta, draws = _fixed_part(spec, data, draws, None, rows, n_draws=n_draws)  # (n, S)
        out = marginal_log_likelihood(np.asarray(data.y), eta.T, draws(family.latent_sd),
                                      draws("thresholds"),
                                      draws("loading") if family.free_loadings else None,
                                      nodes=nodes, chunk=chunk)
    else:
        eta, draws = _fixed_part(spec, data, draws, None, rows, n_draws=n_draws)  # (n, S)
        sd = draws(family.latent_sd)  # (S,)
        y = np.asarray(data.y)  # the row's items summed per draw and node
        out = _integrated(eta, np.broadcast_to(sd[None, :], eta.shape), draws,
                          lambda lin, sub: family.latent_log_density(lin, sub, y), chunk=chunk)
    shape = (post.sizes["chain"], post.sizes["draw"], data.n)
    tree = xr.DataTree.from_dict({
        "posterior": post,
        "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), out.reshape(shape))})})
    # what PSIS-LOO over this tree leaves out (loo.csv's left_out)
    tree.attrs["left_out"] = (f"one row, its {family.latent_sd.removeprefix('sd_')} latent "
                              f"integrated out ({nodes}-node Gauss-Hermite; items together)")
    return tree


# a fit's quadrature is judged against this many nodes, and passes while the error's
# spread over the draws (what would reweight the posterior) stays under QUADRATURE_SD_OK
# nats: reweighting by exp(d) moves a posterior mean by about cov(theta, d), at most
# sd(d) posterior SDs -- so at most a tenth of a posterior SD
QUADRATURE_REFERENCE = 61
QUADRATURE_SD_OK = 0.1


def quadrature_check(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                     max_draws: int = 200, reference: int = QUADRATURE_REFERENCE) -> dict:
    """How much a fit whose likelihood integrates each row's latent out by Gauss-Hermite
    quadrature (``family.nodes`` nodes) errs at its own posterior draws.

    Per draw ``s`` the log-likelihood summed over rows at the fit's nodes and at
    ``reference`` nodes: ``d_s = l_ref(s) - l_fit(s)``. The exact posterior is the fitted
    one reweighted by ``exp(d_s)``: a constant error changes nothing, its spread over the
    draws is what matters. Returns ``nodes``, ``reference``, ``max_abs_error`` (nats, the
    largest ``|d_s|``), ``error_sd`` (SD of ``d_s`` over the draws), ``weight_ess_share``
    (the importance weights' ESS over the draws, 1 = no reweighting needed) and ``ok``
    (``error_sd`` under :data:`QUADRATURE_SD_OK`: to first order the exact posterior mean
    of any parameter lies within ``error_sd`` posterior SDs of the fitted one)."""
    family = spec.family_impl
    draws, post = thinned_draws(tree, max_draws=max_draws)
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    eta, draws = _fixed_part(spec, data, draws, None, np.arange(data.n), n_draws=n_draws)
    args = (np.asarray(data.y), eta.T, draws(family.latent_sd), draws("thresholds"),
            draws("loading") if family.free_loadings else None)
    fitted = marginal_log_likelihood(*args, nodes=family.nodes).sum(axis=1)
    exact = marginal_log_likelihood(*args, nodes=reference).sum(axis=1)
    d = exact - fitted
    w = np.exp(d - d.max())
    sd = float(d.std())
    return {"nodes": int(family.nodes), "reference": int(reference),
            "max_abs_error": float(np.abs(d).max()), "error_sd": sd,
            "weight_ess_share": float(w.sum() ** 2 / (w**2).sum() / len(w)),
            "ok": bool(sd < QUADRATURE_SD_OK)}


def latent_scores(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                  max_draws: int = 1000) -> pd.DataFrame:
    """Each row's latent trait given its answers: posterior mean and SD per row.

    For a model whose likelihood integrates the row latent out (the ``graded`` family), the
    latent is recovered after sampling: per draw, its posterior on the quadrature nodes
    (:func:`models.item_response.latent_moments`), combined over draws by the law of total
    variance. A model that samples the latent (``graded_latent``) reports its draws'
    moments. ``theta`` is on the scale of the linear predictor (every fitted group effect
    included).
    """
    from models.item_response import latent_posterior

    family = spec.family_impl
    draws, post = thinned_draws(tree, max_draws=max_draws)
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    eta, draws = _fixed_part(spec, data, draws, None, np.arange(data.n), n_draws=n_draws)
    sd = draws(family.latent_sd)  # (S,)
    if getattr(family, "marginal", False):
        mean, sd_ = latent_posterior(np.asarray(data.y), eta.T, sd, draws("thresholds"),
                                     draws("loading") if family.free_loadings else None,
                                     nodes=family.nodes)
    else:
        theta = eta.T + sd[:, None] * draws("z_tenant")  # (S, n)
        mean, sd_ = theta.mean(axis=0), theta.std(axis=0)
    return pd.DataFrame({"row": np.arange(data.n), "theta_mean": mean, "theta_sd": sd_})


def item_curves(tree: xr.DataTree, *, theta: np.ndarray | None = None,
                max_draws: int = 400, prob: float = 0.9, at_least: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Item characteristic curves of an item-level fit: ``P(y_j = k | theta)`` on a latent
    grid, posterior mean and central ``prob`` interval, each ``(J, T, K)``, and the grid.

    ``theta`` defaults to 121 points over +-3 posterior-mean latent SDs. The loadings
    (``loading``, else 1) scale each item's curves: the latent is shared. ``at_least``:
    the boundary curves ``P(y_j >= k | theta)`` for the categories above the lowest,
    ``(J, T, K-1)`` each -- logistic curves whose steepness is the item's loading.
    """
    from models.item_response import category_probabilities

    draws, _ = thinned_draws(tree, max_draws=max_draws)
    tau = draws("thresholds")  # (S, J, K-1)
    post = tree["posterior"]
    loading = draws("loading") if "loading" in post else None
    if theta is None:
        half = 3.0 * float(post["sd_tenant"].mean()) if "sd_tenant" in post else 3.0
        theta = np.linspace(-half, half, 121) + float(np.median(tau))
    probs = category_probabilities(theta, tau, loading)  # (S, J, T, K)
    if at_least:  # P(y >= k) for k = 2nd..last category
        probs = np.cumsum(probs[..., ::-1], axis=-1)[..., ::-1][..., 1:]
    lo, hi = np.quantile(probs, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return theta, probs.mean(axis=0), lo, hi


def thinned_draws(tree: xr.DataTree, *, max_draws: int = 1000):
    """Draws thinned evenly *within* chains (the chain structure PSIS's relative efficiency
    needs): ``(accessor, thinned posterior dataset)``."""
    post = tree["posterior"]
    step = max(1, int(np.ceil(post.sizes["chain"] * post.sizes["draw"] / max_draws)))
    post = post.isel(draw=slice(None, None, step))

    def draws(name: str) -> np.ndarray:
        return post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values

    return draws, post


LOGO_DRAWS = 1000  # draws (thinned within chains) the leave-one-group-out criteria use


def group_log_densities(fits, *, max_draws: int = LOGO_DRAWS) -> dict:
    """``{model: (groups, (S, G) log-likelihoods)}`` of :func:`group_log_density` over
    ``max_draws`` thinned draws, for every fit (``spec``, ``data``, ``tree``) that has the
    criterion: computed once, for PSIS-LOGO and for anything else that scores new groups
    on the same draws (:mod:`diagnostics.structures`)."""
    out = {}
    for r in fits:
        if unsupported_reason(r.spec) or "posterior" not in r.tree.children:
            continue
        draws, _ = thinned_draws(r.tree, max_draws=max_draws)
        out[r.spec.name] = group_log_density(r.tree, r.spec, r.data, draws)
    return out


def psis_logo(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
              max_draws: int = LOGO_DRAWS, group_ll: tuple | None = None) -> pd.DataFrame:
    """PSIS-LOGO per group of the lowest random level: one row per group with its
    ``elpd`` and Pareto ``k`` (k > 0.7: the estimate is unreliable; refit instead).
    ``group_ll``: :func:`group_log_density` on the same ``max_draws`` thinned draws, if
    already computed."""
    draws, post = thinned_draws(tree, max_draws=max_draws)
    groups, ll = group_ll if group_ll is not None else group_log_density(tree, spec, data,
                                                                         draws)
    level = logo_level(spec)
    shape = (post.sizes["chain"], post.sizes["draw"], -1)
    lt = xr.DataTree.from_dict({  # the posterior: PSIS's relative efficiency from its ESS
        "posterior": post,
        "log_likelihood": xr.Dataset({"y": (("chain", "draw", "group"), ll.reshape(shape))})})
    with warnings.catch_warnings():  # high Pareto k is reported in the table instead
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        res = azs.loo(lt, pointwise=True)
    labels = np.asarray(data.level_labels[level], dtype=object)[groups]
    return pd.DataFrame({"group": labels.astype(str),
                         "elpd": np.asarray(res.elpd_i).ravel(),
                         "pareto_k": np.asarray(res.pareto_k).ravel()})


def compare_pointwise(pointwise: dict[str, pd.Series], *, criterion: str,
                      outcome: str = "") -> pd.DataFrame:
    """Rank models by summed pointwise elpd (same groups), with paired differences to the
    best and their SEs, and a sentence (a difference under twice its SE: no clear one)."""
    frame = pd.DataFrame(pointwise)
    if frame.isna().any().any():
        missing = frame.columns[frame.isna().any()].tolist()
        raise ValueError(f"{criterion}: models {missing} lack some groups; only models of the "
                         f"same groups can be compared")
    G = len(frame)
    elpd = frame.sum()
    order = elpd.sort_values(ascending=False).index
    best = order[0]
    rows = []
    for rank, name in enumerate(order):
        diff = frame[best] - frame[name]
        d, dse = float(diff.sum()), paired_se(diff)
        rows.append({"outcome": outcome, "criterion": criterion, "model": name, "rank": rank,
                     "elpd": float(elpd[name]), "se": paired_se(frame[name]),
                     "elpd_diff": d, "dse": 0.0 if name == best else dse, "n_groups": G,
                     "meaning": meaning(name, best, d, dse)})
    return pd.DataFrame(rows)


def logo_summary(fits, *, group_lls: dict | None = None) -> pd.DataFrame:
    """PSIS-LOGO per fitted model (``fits``: objects with ``spec``, ``data``, ``tree``):
    ``elpd_logo`` (a new complex), its SE and the count of complexes with Pareto k > 0.7,
    beside PSIS-LOO in ``loo.csv``. Models without the criterion are left out.
    ``group_lls``: :func:`group_log_densities` of the fits, if already computed."""
    rows = []
    for r in fits:
        if unsupported_reason(r.spec) or "posterior" not in r.tree.children:
            continue
        t = psis_logo(r.tree, r.spec, r.data, group_ll=(group_lls or {}).get(r.spec.name))
        rows.append({"model": r.spec.name, "elpd_logo": float(t["elpd"].sum()),
                     "logo_se": paired_se(t["elpd"]),
                     "logo_groups": len(t),
                     "logo_pareto_k_bad": int((t["pareto_k"] > PARETO_K_BAD).sum())})
    return pd.DataFrame(rows, columns=["model", "elpd_logo", "logo_se", "logo_groups",
                                       "logo_pareto_k_bad"])


def loadings_comparison(equal: tuple, free: tuple, *, outcome: str = "",
                        max_draws: int = 1000) -> pd.DataFrame:
    """Equal vs free item loadings of a graded response model, by PSIS-LOO per tenant.

    ``equal`` and ``free``: ``(tree, spec, data)`` of the same items on the same rows, one
    with a family of equal loadings (``graded_latent``, ``graded_equal``), one with a loading
    per item (``graded``). Each tenant's answers are left out together, the tenant's latent
    integrated out (:func:`latent_integrated_tree`), so that the two families' pointwise
    values are comparable whatever each samples. One row: each model's ``elpd`` and its SE,
    ``elpd_diff`` = free minus equal summed over tenants with its paired SE ``dse``, the
    tenants with Pareto k > 0.7 per model, the free loadings' posterior means and
    ``preferred``: ``free`` where the difference exceeds twice its SE, else ``equal`` (the
    nested, simpler model: the data do not ask for distinct loadings).
    """
    values, bad, models = {}, {}, {}
    for key, (tree, spec, data) in (("equal", equal), ("free", free)):
        if not hasattr(spec.family_impl, "latent_log_density"):
            raise ValueError(f"model {spec.name!r}: family {spec.family!r} is no item model")
        want = key == "free"
        if bool(getattr(spec.family_impl, "free_loadings", False)) != want:
            raise ValueError(f"model {spec.name!r} ({spec.family}) has "
                             f"{'equal' if want else 'free'} loadings; expected {key}")
        lt = latent_integrated_tree(tree, spec, data, max_draws=max_draws)
        with warnings.catch_warnings():  # high Pareto k is counted in the table instead
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            res = azs.loo(lt, pointwise=True)
        values[key] = pd.Series(np.asarray(res.elpd_i).ravel())
        bad[key] = int((np.asarray(res.pareto_k).ravel() > PARETO_K_BAD).sum())
        models[key] = spec.name
    if len(values["equal"]) != len(values["free"]):
        raise ValueError("equal and free loadings: the fits have different rows")
    diff = values["free"] - values["equal"]
    d, dse = float(diff.sum()), paired_se(diff)
    tree = free[0]
    loadings = tree["posterior"]["loading"].mean(("chain", "draw"))
    return pd.DataFrame([{
        "outcome": outcome, "criterion": "PSIS-LOO (tenant, latent integrated out)",
        "equal": models["equal"], "free": models["free"], "n_tenants": len(diff),
        "elpd_equal": float(values["equal"].sum()), "se_equal": paired_se(values["equal"]),
        "elpd_free": float(values["free"].sum()), "se_free": paired_se(values["free"]),
        "elpd_diff": d, "dse": dse,
        "pareto_k_bad_equal": bad["equal"], "pareto_k_bad_free": bad["free"],
        "loadings": ", ".join(f"{i}: {v:.2f}" for i, v in
                              zip(loadings["item"].values, loadings.values, strict=True)),
        "preferred": "free" if d > 2 * dse else "equal"}])
