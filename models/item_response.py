"""The graded response model with each row's latent trait integrated out.

Per row (tenant) ``i`` and item ``j`` with ordered answers ``k = 0..K-1``::

    P(y_ij <= k | theta_i) = expit(tau_jk - lambda_j theta_i),   theta_i ~ N(eta_i, sd^2)

(Samejima's graded response model; ``tau`` the item's thresholds, ``lambda`` its loading or
discrimination, ``eta_i`` the linear predictor). The row's marginal likelihood

``p(y_i) = integral prod_j P(y_ij | theta) N(theta; eta_i, sd^2) dtheta
         ~ sum_q w_q prod_j P(y_ij | eta_i + sd x_q)``

is computed by plain Gauss-Hermite quadrature (probabilists' nodes ``x_q``, weights summing
to 1), in log space: ``logsumexp_q (log w_q + sum_j log P(y_ij | .))``, each answer's
probability a difference of two sigmoids taken without cancellation. Marginalising the
latent is how established latent-variable software fits such models (e.g. blavaan's
marginal likelihood; Merkle, Furr & Rabe-Hesketh 2019 for its use in LOO).

This module holds the arithmetic only -- the PyTensor log density the sampler compiles
(:func:`marginal_logp`), its numpy twin (:func:`marginal_log_likelihood`), forward
simulation (:func:`simulate_items`), the rows' latent posterior recovered after sampling
(:func:`latent_moments`, :func:`latent_posterior`) and the item characteristic curves
(:func:`category_probabilities`); :class:`models.families.Graded` builds the model from it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, logsumexp

__all__ = ["CLIP", "NODES", "PAD", "category_probabilities", "gauss_hermite", "items_dist",
           "latent_moments", "latent_posterior", "marginal_log_likelihood", "marginal_logp",
           "simulate_items"]

# Gauss-Hermite nodes per row in the sampled model. On the default cohesion data at the
# model's posterior mode (latent SD 1.03, loadings 0.94-1.03) the summed marginal
# log-likelihood is within 6e-4 nats per 1000 tenants of a 101-node reference at 15 nodes
# and 1e-6 at 21; with the latent SD doubled, 0.56 at 15 and 0.09 at 21. 21 keeps the
# error small where a data set's latent SD (times its largest loading) is up to about 2;
# plain quadrature degrades beyond (bench/bench_items.py --parts accuracy).
NODES = 21
# the outer categories' missing cut points: a finite stand-in for -inf / +inf keeps every
# term and its gradient finite (exp(-PAD) is 0 in float64)
PAD = 1e3
# bound of the exponents inside the compiled log density: a node's term is at most
# (1 + exp(2 CLIP))^2, finite in float64
CLIP = 150.0


def gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes ``x`` and log weights (weights summing to 1): the
    expectation of ``f(u)`` for ``u ~ N(0, 1)`` is ``sum_q exp(log_w_q) f(x_q)``."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return x, np.log(w / w.sum())


def _padded(tau):
    """``(..., J, K+1)`` cut points with ``-PAD`` and ``+PAD`` at the ends (numpy)."""
    shape = tau.shape[:-1] + (1,)
    return np.concatenate([np.full(shape, -PAD), tau, np.full(shape, PAD)], axis=-1)


def marginal_logp(y, eta, sd, tau, loading, *, nodes: int = NODES):
    """PyTensor ``(n,)`` log marginal likelihood of each row's answers.

    Parameters
    ----------
    y
        ``(n, J)`` integer codes ``0..K-1``.
    eta
        ``(n,)`` linear predictor (the latent's mean per row).
    sd
        Scalar SD of the latent around ``eta``.
    tau
        ``(J, K-1)`` ordered thresholds per item.
    loading
        ``(J,)`` positive loadings (ones: equal loadings).
    """
    import pytensor.tensor as pt

    # PyMC hands the parameters over with a batch axis of length 1 (or n): (B,), (B, J, K-1)
    # and (B, J) against eta (n,)
    sd = sd if sd.ndim == 1 else sd[None]
    tau = tau if tau.ndim == 3 else tau[None]
    loading = loading if loading.ndim == 2 else loading[None]
    x, log_w = gauss_hermite(nodes)
    n_rows, n_items = y.shape[0], y.shape[1]
    pad = pt.full((tau.shape[0], n_items, 1), PAD)
    cuts = pt.concatenate([-pad, tau, pad], axis=2)  # (B, J, K+1)
    cuts = pt.broadcast_to(cuts, (n_rows, n_items, cuts.shape[2]))  # (n, J, K+1)
    rows, items = pt.arange(n_rows)[:, None], pt.arange(n_items)[None, :]
    upper = cuts[rows, items, y + 1]  # (n, J): the cut above each answer
    lower = cuts[rows, items, y]  # and below
    # With lin = loading_j theta and r = exp(lower - upper) < 1, the answer's probability
    #   expit(upper - lin) - expit(lower - lin)
    #     = (1 - r) / ((1 + exp(lower - lin)) (1 + exp(lin - upper)))
    # has no difference of nearly equal numbers, and with theta = eta + sd x_q both
    # exponentials factor into a per-answer and a per-node part: the (n, Q, J) work is
    # multiplications and one log per term, no exp (4-5x faster with its gradient than
    # two log-sigmoids per term; bench/bench_items.py).
    gap = pt.log1mexp(lower - upper).sum(axis=1)  # (n,): log(1 - r), once per answer
    le = eta[:, None] * loading  # (n, J)
    # exponents clipped to +-CLIP so that no term overflows (exp(-CLIP) is already 0 to the
    # sum of a row's nodes; PAD's outer cut points clip to it)
    lo = pt.exp(pt.clip(lower - le, -CLIP, CLIP))  # (n, J)
    hi = pt.exp(pt.clip(le - upper, -CLIP, CLIP))
    node = pt.clip(sd[:, None, None] * pt.as_tensor(x)[None, :, None] * loading[:, None, :],
                   -CLIP, CLIP)  # (B, Q, J)
    t = (1.0 + lo[:, None, :] * pt.exp(-node)) * (1.0 + hi[:, None, :] * pt.exp(node))
    per_node = -pt.log(t).sum(axis=2) + pt.as_tensor(log_w)[None, :]  # (n, Q)
    return pt.logsumexp(per_node, axis=1) + gap  # (n,)


def _node_log_density(y, eta, sd, tau, loading, x):
    """numpy ``(S, n, Q)``: ``sum_j log P(y_ij | eta_i + sd x_q)`` per draw, row and node.

    ``eta`` ``(S, n)``, ``sd`` ``(S,)``, ``tau`` ``(S, J, K-1)``, ``loading`` ``(S, J)``.
    """
    cuts = _padded(tau)  # (S, J, K+1)
    items = np.arange(y.shape[1])[None, :]
    upper = cuts[:, items, y + 1]  # (S, n, J)
    lower = cuts[:, items, y]
    with np.errstate(divide="ignore"):
        gap = np.log(-np.expm1(lower - upper)).sum(axis=2)  # (S, n)
    theta = eta[:, :, None] + sd[:, None, None] * x[None, None, :]  # (S, n, Q)
    lin = theta[..., None] * loading[:, None, None, :]  # (S, n, Q, J)
    ll = log_expit(upper[:, :, None, :] - lin) + log_expit(lin - lower[:, :, None, :])
    return ll.sum(axis=3) + gap[:, :, None]


def _as_draws(eta, sd, tau, loading):
    eta = np.atleast_2d(np.asarray(eta, float))
    sd = np.atleast_1d(np.asarray(sd, float))
    tau = np.asarray(tau, float)
    tau = tau[None] if tau.ndim == 2 else tau
    loading = np.ones(tau.shape[:2]) if loading is None else np.asarray(loading, float)
    loading = np.broadcast_to(loading[None] if loading.ndim == 1 else loading, tau.shape[:2])
    return eta, sd, tau, loading


def marginal_log_likelihood(y: np.ndarray, eta: np.ndarray, sd: np.ndarray,
                            tau: np.ndarray, loading: np.ndarray | None = None, *,
                            nodes: int = NODES, chunk: int = 50) -> np.ndarray:
    """numpy twin of :func:`marginal_logp` over posterior draws: ``(S, n)``.

    ``eta`` ``(S, n)`` or ``(n,)``, ``sd`` ``(S,)`` or scalar, ``tau`` ``(S, J, K-1)`` or
    ``(J, K-1)``, ``loading`` ``(S, J)``, ``(J,)`` or ``None`` (equal). Chunked over draws.
    """
    eta, sd, tau, loading = _as_draws(eta, sd, tau, loading)
    x, log_w = gauss_hermite(nodes)
    y = np.asarray(y, dtype=np.int64)
    out = np.empty(eta.shape)
    for s in range(0, eta.shape[0], chunk):
        sl = slice(s, s + chunk)
        ld = _node_log_density(y, eta[sl], sd[sl], tau[sl], loading[sl], x)
        out[sl] = logsumexp(ld + log_w, axis=2)
    return out


def latent_moments(y: np.ndarray, eta: np.ndarray, sd: np.ndarray, tau: np.ndarray,
                   loading: np.ndarray | None = None, *, nodes: int = NODES,
                   chunk: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of each row's latent ``theta_i | y_i`` per posterior draw, ``(S, n)`` each.

    The posterior of ``theta_i`` given its answers and one draw of the parameters is the
    prior ``N(eta_i, sd^2)`` reweighted by the items' likelihood; on the quadrature nodes
    its weights are ``w_q prod_j P(y_ij | theta_q)`` normalised, and its moments follow --
    the latent the marginal model no longer samples, recovered draw by draw.
    """
    eta, sd, tau, loading = _as_draws(eta, sd, tau, loading)
    x, log_w = gauss_hermite(nodes)
    y = np.asarray(y, dtype=np.int64)
    mean, var = np.empty(eta.shape), np.empty(eta.shape)
    for s in range(0, eta.shape[0], chunk):
        sl = slice(s, s + chunk)
        ld = _node_log_density(y, eta[sl], sd[sl], tau[sl], loading[sl], x) + log_w
        w = np.exp(ld - logsumexp(ld, axis=2, keepdims=True))  # (s, n, Q)
        theta = eta[sl, :, None] + sd[sl, None, None] * x  # (s, n, Q)
        m = (w * theta).sum(axis=2)
        mean[sl], var[sl] = m, np.maximum((w * theta**2).sum(axis=2) - m**2, 0.0)
    return mean, np.sqrt(var)


def latent_posterior(y: np.ndarray, eta: np.ndarray, sd: np.ndarray, tau: np.ndarray,
                     loading: np.ndarray | None = None, *,
                     nodes: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and SD of each row's latent over all draws, ``(n,)`` each: the
    per-draw moments of :func:`latent_moments` combined by the law of total variance."""
    mean, sd_ = latent_moments(y, eta, sd, tau, loading, nodes=nodes)
    total = (sd_**2).mean(axis=0) + mean.var(axis=0)
    return mean.mean(axis=0), np.sqrt(total)


def category_probabilities(theta: np.ndarray, tau: np.ndarray,
                           loading: np.ndarray | None = None) -> np.ndarray:
    """Item characteristic curves: ``P(y_j = k | theta)``, shape ``(..., J, len(theta), K)``.

    ``tau`` ``(..., J, K-1)`` (e.g. posterior draws first), ``loading`` ``(..., J)``.
    """
    tau = np.asarray(tau, float)
    loading = np.ones(tau.shape[:-1]) if loading is None else np.asarray(loading, float)
    lin = loading[..., None] * np.asarray(theta, float)  # (..., J, T)
    cum = expit(tau[..., None, :] - lin[..., None])  # (..., J, T, K-1): P(y <= k)
    ones = np.ones(cum.shape[:-1] + (1,))
    return np.diff(np.concatenate([0.0 * ones, cum, ones], axis=-1), axis=-1)


def items_dist(eta, sd, tau, loading, size):
    """PyMC graph of :func:`simulate_items` (a ``CustomDist``'s ``dist``): forward draws
    that PyTensor compiles like any other distribution's."""
    import pymc as pm
    import pytensor.tensor as pt

    theta = pm.Normal.dist(eta, sd, size=size)  # (..., n): a new latent per row
    lin = theta[..., None] * loading  # (..., n, J)
    cum = pt.sigmoid(tau - lin[..., None])  # (..., n, J, K-1)
    edge = pt.ones_like(cum[..., :1])
    p = pt.diff(pt.concatenate([0.0 * edge, cum, edge], axis=-1), axis=-1)
    return pm.Categorical.dist(p=p)  # (..., n, J)


def simulate_items(eta, sd, tau, loading, rng: np.random.Generator | None = None,
                   size: tuple | None = None) -> np.ndarray:
    """Answers ``(..., n, J)`` for new latents ``theta_i ~ N(eta_i, sd^2)`` (forward sampling:
    prior and posterior predictive draws of the marginal model). Parameters broadcast as
    PyMC passes them: ``eta`` ``(..., n)``, ``sd`` ``(...)``, ``tau`` ``(..., J, K-1)``,
    ``loading`` ``(..., J)``; ``size`` the batch shape ``(..., n)`` when given."""
    rng = np.random.default_rng() if rng is None else rng
    eta, sd = np.asarray(eta, float), np.asarray(sd, float)
    tau, loading = np.asarray(tau, float), np.asarray(loading, float)
    batch = np.broadcast_shapes(eta.shape, sd.shape, tau.shape[:-2], loading.shape[:-1])
    if size is not None:
        batch = tuple(size)
    theta = eta + sd * rng.standard_normal(batch)  # (..., n)
    lin = theta[..., None] * loading  # (..., n, J)
    cum = expit(tau - lin[..., None])  # (..., n, J, K-1)
    u = rng.random(cum.shape[:-1])
    return (u[..., None] > cum).sum(axis=-1).astype(np.int64)
