"""Response families as objects: each owns everything that differs between likelihoods.

Following Bambi's ``bambi/families/family.py``, a family is an object that owns its likelihood
and its predictions; data preparation, the model builder, the diagnostics and the Bambi
backend ask it instead of branching on a family name. A family owns

* encoding the response for :func:`models.design.prepare` (:meth:`Family.encode`);
* its part of the PyMC graph after the linear predictor: intercept or thresholds, residual
  sd, the graded family's row-level latent, and the likelihood ``y`` (:meth:`Family.likelihood`);
* prior scaling (:meth:`Family.scale_priors`: the Gaussian's Bambi-style auto-scaling);
* the event read on the outcome scale and its population-average probability
  (:meth:`Family.event`, :meth:`Family.event_probability`);
* the statistics of predictive checks (:meth:`Family.ppc_statistics`);
* its plain-Bambi equivalent (:attr:`Family.bambi_name` and the ``bambi_*`` methods).

Adding a family is one new subclass here, registered in :data:`FAMILIES`, plus its tests.
``ModelSpec.family`` stays the registry name (it is part of every saved spec's JSON);
``ModelSpec.family_impl`` is the object.

The module is generic: it knows no study (which event a reader follows, which levels an
outcome has are passed in). PyMC is imported inside the graph-building methods only:
:mod:`models.spec` imports this module for the family names, and the command line reads
configs without loading PyMC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.special import expit, gammaln, log_expit, log_ndtr, ndtr

from models.errors import PreparationError
from models.item_response import NODES

if TYPE_CHECKING:
    from pytensor.tensor import TensorVariable

    from models.design import ModelData
    from models.spec import ModelSpec

__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Binomial",
    "Cumulative",
    "Draws",
    "Family",
    "Gaussian",
    "Graded",
    "GradedEqual",
    "GradedLatent",
    "Statistic",
    "get_family",
]

Draws = Callable[[str], np.ndarray]  # variable name -> (S, ...) posterior draws
Statistic = Callable[[np.ndarray], np.ndarray]  # (S, n) responses -> (S,) statistic
BambiPrior = tuple[str, dict[str, Any]]  # (distribution name, parameters) of a bmb.Prior

# Gauss-Hermite nodes and weights that integrate unknown N(0, sd^2) group effects per draw
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(15)
_GH_W = _GH_W / _GH_W.sum()
# prior SD of the graded family's zero-sum log-loadings (a spec's prior ``loading_sd``)
LOADING_SD = 0.5


class Family(ABC):
    """A response distribution and everything that differs with it.

    Subclasses set the class attributes and override the methods their likelihood needs;
    instances hold no state (the registry :data:`FAMILIES` holds one of each).

    Attributes
    ----------
    name
        Registry key: the ``family`` of a :class:`~models.spec.ModelSpec`.
    ordinal
        Ordered response categories, with thresholds (cut points) instead of an intercept.
    uses_items
        Several item columns (the spec's ``items``) measure one row-level latent trait.
    has_intercept
        The linear predictor has an intercept (an ordinal family's thresholds replace it).
    has_event_prediction
        A population-average event (:meth:`event`, :meth:`event_probability`) is defined,
        so effects on the outcome scale and concept predictions can be made.
    has_probability_scale
        The event is a probability (reported in percent), not a mean on the response scale.
    bambi_name
        Bambi's name of the same family; ``None`` where plain Bambi has no equivalent.
    obs_dims
        Dims of the observed response in the PyMC model.
    """

    name: ClassVar[str] = ""
    ordinal: ClassVar[bool] = False
    uses_items: ClassVar[bool] = False
    has_intercept: ClassVar[bool] = True
    has_event_prediction: ClassVar[bool] = True
    has_probability_scale: ClassVar[bool] = True
    bambi_name: ClassVar[str | None] = None
    obs_dims: ClassVar[str | tuple[str, ...]] = "obs"
    # the least NUTS target acceptance this family's geometry needs (the sampler uses the
    # larger of this and the run's setting)
    min_target_accept: ClassVar[float] = 0.0
    # names of the family's own model variables that a grouping level must not take
    reserved_names: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- the spec and its data ---------------------------------------------------------
    def check_spec(self, spec: ModelSpec) -> None:
        """Raise ``ValueError`` when ``spec`` cannot be a model of this family.

        Only an item family takes the spec's ``items`` (and it needs them).
        """
        if bool(spec.items) != self.uses_items:
            raise ValueError(_items_message(spec))

    def response_columns(self, spec: ModelSpec) -> list[str]:
        """The data columns holding the response (one, or one per item)."""
        return [spec.response]

    @abstractmethod
    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        """The response as the likelihood reads it, and its categories.

        Parameters
        ----------
        y
            Shape ``(n, len(response_columns(spec)))``: the complete-case responses as floats
            (not modified).
        spec
            The model specification (its name appears in every error).
        known_levels
            The response's levels as a codebook knows them: the categories of a cumulative
            response when the spec names none (levels absent from the data stay categories).

        Returns
        -------
        tuple
            The encoded response (``(n,)``, or ``(n, n_item)`` for an item family) and the
            ordered categories it indexes (the spec's own for non-ordinal families).

        Raises
        ------
        PreparationError
            A value the family cannot represent, named with the column.
        """

    def trials(self, y: np.ndarray, spec: ModelSpec) -> np.ndarray | None:
        """Trials per row (the binomial family); ``None`` for families without trials."""
        return None

    # -- the PyMC graph ----------------------------------------------------------------
    def coords(self, spec: ModelSpec, categories: tuple) -> dict[str, list]:
        """Model coordinates this family adds (items, thresholds)."""
        return {}

    def scale_priors(self, prior: dict[str, float], data: ModelData) -> dict[str, float]:
        """The spec's prior values as this family's model uses them.

        Returns a new dict: ``prior`` (in its order) plus ``intercept_mu``, the intercept's
        prior location (0 on the logit scale).
        """
        return prior | {"intercept_mu": 0.0}

    @abstractmethod
    def likelihood(self, eta: TensorVariable, *, y_obs: TensorVariable,
                   priors: Mapping[str, TensorVariable], spec: ModelSpec,
                   data: ModelData) -> TensorVariable:
        """Add the family's parameters and the observed ``y`` to the model in context.

        ``eta`` is the latent predictor without intercept or thresholds, shape ``(n,)``;
        ``priors`` the ``pm.Data`` of :func:`models.build.data_updates` (``prior_*`` keys).
        The variables are created in a fixed order (their order fixes nutpie's parameter
        vector, hence the draws of a seed). Returns the observed variable.
        """

    # -- predictions -------------------------------------------------------------------
    @abstractmethod
    def event(self, spec: ModelSpec, data: ModelData, *,
              category: int | None = None) -> tuple[str, int | None]:
        """The event a reader of the outcome follows: its label and category index.

        ``category`` is the index (into ``data.categories``) of the lowest category of an
        ordinal event ``y >= categories[category]``; ``None``: the top category. Families
        that are not ordinal ignore it. Raises ``ValueError`` where
        :attr:`has_event_prediction` is false.
        """

    @abstractmethod
    def event_probability(self, eta: np.ndarray, draws: Draws, *, sd: np.ndarray,
                          event: int | None, weights: np.ndarray | None = None) -> np.ndarray:
        """Population-average event probability (or mean) per draw, shape ``(S,)``.

        Parameters
        ----------
        eta
            ``(n, S)`` latent predictor per row and draw, without intercept or thresholds.
        draws
            Posterior draws by variable name (``intercept``, ``thresholds``).
        sd
            ``(S,)`` SD of unknown group effects integrated over (Gauss-Hermite; 0: none).
        event
            The category index from :meth:`event`.
        weights
            ``(n,)`` weights of the rows in the average (``None``: equal; a population's
            post-stratification or propensity weights, :mod:`data.population`).
        """

    @abstractmethod
    def ppc_statistics(self, data: ModelData) -> dict[str, Statistic]:
        """Named test statistics of predictive checks, each ``(S, n) -> (S,)``."""

    def ppc_arrays(self, obs: np.ndarray, rep: np.ndarray,
                   data: ModelData | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Observed ``(n,)`` and replicated ``(S, n)`` responses as the statistics read them."""
        return obs, rep

    def draw(self, eta: np.ndarray, draws: Draws, rng: np.random.Generator,
             data: ModelData) -> np.ndarray | None:
        """Replicated responses ``(S, n)`` (coded as ``data.y``) for a latent predictor
        ``eta`` ``(n, S)`` without intercept or thresholds -- replications with *new*
        group effects, drawn outside PyMC. ``None`` for a family whose replications only
        PyMC draws (the item-level graded family: its checks pool the items)."""
        return None

    def log_density(self, lin: np.ndarray, draws: Draws, y: np.ndarray,
                    trials: np.ndarray | None = None) -> np.ndarray | None:
        """``log p(y_i | lin)`` in numpy, the shape of ``lin`` ``(n, S, ...)``: ``lin`` is the
        latent predictor without intercept or thresholds per row (axis 0) and draw (axis 1),
        with any trailing axes (e.g. quadrature nodes of an integrated group effect); ``y``
        ``(n,)`` coded as ``data.y``. ``None`` for a family whose rows share a latent that
        the log density cannot separate (graded) -- the leave-one-group-out criteria skip it.
        """
        return None

    # -- the plain-Bambi equivalent ----------------------------------------------------
    def require_bambi(self, spec: ModelSpec) -> str:
        """Bambi's family name, or ``ValueError`` where plain Bambi has none."""
        if self.bambi_name is None:
            supported = [n for n, f in FAMILIES.items() if f.bambi_name is not None]
            raise ValueError(f"model {spec.name!r}: family {spec.family!r} has no plain Bambi "
                             f"equivalent (supported: {supported})")
        return self.bambi_name

    def bambi_response(self, spec: ModelSpec, data: ModelData) -> Any:
        """The response column of the Bambi data frame (families with a ``bambi_name``)."""
        self.require_bambi(spec)
        raise TypeError(f"{type(self).__name__} names a Bambi family but no response")

    def bambi_priors(self, p: Mapping[str, float], data: ModelData) -> dict[str, BambiPrior]:
        """The family's own priors in Bambi's terms, from the scaled values ``p``."""
        raise TypeError(f"{type(self).__name__} has no Bambi priors")


def _items_message(spec: ModelSpec) -> str:
    names = ", ".join(n for n, f in FAMILIES.items() if f.uses_items)
    return (f"model {spec.name!r}: an item family ({names}) needs items, and "
            f"items need an item family")


def _num(value) -> str:
    """A category as it reads: ``2`` for 2.0, other values as they are."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _whole(values: list) -> tuple:
    """Categories read from the data: whole numbers as ints (``1`` not ``1.0``)."""
    return tuple(int(v) if float(v).is_integer() else v for v in values)


def _integrate(eta: np.ndarray, sd: np.ndarray,
               prob: Callable[[np.ndarray], np.ndarray],
               weights: np.ndarray | None = None) -> np.ndarray:
    """Mean over rows (weighted by ``weights`` (n,) if given) of ``prob(eta + u)`` with
    ``u ~ N(0, sd^2)`` per draw, shape ``(S,)``.

    ``sd`` is ``(S,)``, or ``(n, S)`` where the unknown group effect's SD differs by row.
    """
    sd = np.broadcast_to(sd, eta.shape)  # (S,) or, with varying slopes, per row (n, S)
    lin = eta[:, :, None] + sd[:, :, None] * _GH_X[None, None, :]  # (n, S, Q)
    return np.average(prob(lin) @ _GH_W, axis=0, weights=weights)


def _trail(a: np.ndarray, lin: np.ndarray) -> np.ndarray:
    """Per-draw ``(S,)`` or per-row ``(n,)`` values shaped to broadcast against ``lin``."""
    return a.reshape(a.shape + (1,) * (lin.ndim - a.ndim))


def _logit_density(z: np.ndarray, y: np.ndarray, n: np.ndarray | float = 1.0) -> np.ndarray:
    """Binomial log density of ``y`` successes in ``n`` trials at log-odds ``z``."""
    y, n = _trail(np.asarray(y, float), z), _trail(np.asarray(n, float), z)
    return y * log_expit(z) + (n - y) * log_expit(-z)


def _shares(categories: tuple) -> dict[str, Statistic]:
    """Share of each category (codes 0..K-1) per replicate."""
    return {f"share {c}": (lambda a, k=k: (a == k).mean(axis=1))
            for k, c in enumerate(categories)}


def _thresholds(sd: TensorVariable, n_cut: int, *, n_items: int | None = None):
    """Ordered cut points as the first one plus positive gaps (a *generative* prior).

    ``threshold_first ~ Normal(0, sd)``, ``threshold_gaps ~ HalfNormal(sd)``, ``thresholds``
    = first + cumulative gaps (per item for the graded family). Forward sampling (prior
    predictive checks, simulation-based calibration) draws from exactly the prior the fit
    uses. The earlier ``Normal(linspace(-1, 1), sd)`` with an ordered *transform* did not:
    PyMC's forward sampling ignores transforms, so about a third of prior draws had unordered
    cut points that the fitted model cannot represent -- SBC of the contact model flagged
    ``thresholds[1|2]`` (90% coverage 0.64 at 200 simulations).
    """
    import pymc as pm
    import pytensor.tensor as pt

    if n_items is None:
        first = pm.Normal("threshold_first", 0.0, sd)
        if n_cut == 1:
            return pm.Deterministic("thresholds", first[None], dims="threshold")
        gaps = pm.HalfNormal("threshold_gaps", sd, shape=n_cut - 1)
        cuts = pt.concatenate([first[None], first + pt.cumsum(gaps)])
        return pm.Deterministic("thresholds", cuts, dims="threshold")
    first = pm.Normal("threshold_first", 0.0, sd, dims="item")
    if n_cut == 1:
        return pm.Deterministic("thresholds", first[:, None], dims=("item", "threshold"))
    gaps = pm.HalfNormal("threshold_gaps", sd, shape=(n_items, n_cut - 1))
    cuts = pt.concatenate([first[:, None], first[:, None] + pt.cumsum(gaps, axis=1)], axis=1)
    return pm.Deterministic("thresholds", cuts, dims=("item", "threshold"))


class Bernoulli(Family):
    """Binary response (0/1), logit link: ``y_i ~ Bernoulli(expit(intercept + eta_i))``."""

    name = "bernoulli"
    bambi_name = "bernoulli"

    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        y = y[:, 0]
        bad = sorted(set(np.unique(y).tolist()) - {0.0, 1.0})
        if bad:
            raise PreparationError(f"model {spec.name!r}: binary response {spec.response!r} "
                                   f"has value(s) {bad}")
        return y.astype(np.int64), tuple(spec.categories)

    def likelihood(self, eta, *, y_obs, priors, spec, data):
        import pymc as pm

        intercept = pm.Normal("intercept", priors["prior_intercept_mu"],
                              priors["prior_intercept_sd"])
        return pm.Bernoulli("y", logit_p=intercept + eta, observed=y_obs, dims="obs")

    def event(self, spec, data, *, category=None):
        """``P(y = 1)``."""
        return f"P({spec.response} = 1)", None

    def event_probability(self, eta, draws, *, sd, event, weights=None):
        return _integrate(eta + draws("intercept")[None, :], sd, expit, weights)

    def draw(self, eta, draws, rng, data):
        p = expit(eta + draws("intercept")[None, :]).T  # (S, n)
        return (rng.random(p.shape) < p).astype(np.int64)

    def log_density(self, lin, draws, y, trials=None):
        return _logit_density(lin + _trail(draws("intercept"), lin[0])[None], y)

    def ppc_statistics(self, data):
        """The share of 1s (the share of 0s is its complement: not a second check)."""
        return {"share 1": _shares((0, 1))["share 1"]}

    def bambi_response(self, spec, data):
        return np.asarray(data.y, dtype=int)

    def bambi_priors(self, p, data):
        return {"Intercept": ("Normal", {"mu": p["intercept_mu"], "sigma": p["intercept_sd"]})}


class Binomial(Family):
    """Successes out of trials, logit link: ``y_i ~ Binomial(n_i, expit(intercept + eta_i))``.

    The spec's ``response`` holds the successes and its ``trials`` column the trials (lme4's
    ``cbind(incidence, size - incidence)``, brms' ``incidence | trials(size)``). The event
    read on the probability scale is a success in one trial.
    """

    name = "binomial"
    bambi_name = None  # the workbench's own; Bambi's p(y, n) syntax is not mapped here

    def check_spec(self, spec: ModelSpec) -> None:
        super().check_spec(spec)
        if not spec.trials:
            raise ValueError(f"model {spec.name!r}: the binomial family needs a trials column "
                             f"(config: trials = \"size\")")

    def response_columns(self, spec: ModelSpec) -> list[str]:
        return [spec.response, spec.trials]

    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        k, n = y[:, 0], y[:, 1]
        problems = []
        for col, v in ((spec.response, k), (spec.trials, n)):
            bad = sorted(set(v[(v != np.round(v)) | (v < 0)].tolist()))
            if bad:
                problems.append(f"{col!r} must hold whole numbers >= 0, has {bad[:5]}")
        if (n < 1).any():
            problems.append(f"{spec.trials!r} has rows with fewer than 1 trial")
        over = k > n
        if over.any():
            problems.append(f"{int(over.sum())} row(s) have more successes ({spec.response!r})"
                            f" than trials ({spec.trials!r})")
        if problems:
            raise PreparationError(f"model {spec.name!r}: " + "; ".join(problems))
        return k.astype(np.int64), tuple(spec.categories)

    def trials(self, y: np.ndarray, spec: ModelSpec) -> np.ndarray:
        return y[:, 1].astype(np.int64)

    def likelihood(self, eta, *, y_obs, priors, spec, data):
        import pymc as pm

        n = pm.Data("trials", data.trials, dims="obs")
        intercept = pm.Normal("intercept", priors["prior_intercept_mu"],
                              priors["prior_intercept_sd"])
        return pm.Binomial("y", n=n, logit_p=intercept + eta, observed=y_obs, dims="obs")

    def event(self, spec, data, *, category=None):
        """``P(success)`` in one trial."""
        return f"P({spec.response} success per trial)", None

    def event_probability(self, eta, draws, *, sd, event, weights=None):
        return _integrate(eta + draws("intercept")[None, :], sd, expit, weights)

    def draw(self, eta, draws, rng, data):
        p = expit(eta + draws("intercept")[None, :]).T  # (S, n)
        return rng.binomial(np.broadcast_to(data.trials, p.shape), p)

    def log_density(self, lin, draws, y, trials=None):
        y, n = np.asarray(y, float), np.asarray(trials, float)
        const = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
        return (_logit_density(lin + _trail(draws("intercept"), lin[0])[None], y, n)
                + _trail(const, lin))

    def ppc_arrays(self, obs, rep, data=None):
        """Each row's share of successes (successes / trials), so that statistics apply to
        any subset of rows."""
        n = np.asarray(data.trials, dtype=float)
        return obs / n, rep / n[None, :]

    def ppc_statistics(self, data):
        """Mean and sd of the rows' shares of successes, share of rows with none."""
        return {"mean row share": lambda a: a.mean(axis=1),
                "sd of row shares": lambda a: a.std(axis=1),
                "rows with no success": lambda a: (a == 0).mean(axis=1)}


class Gaussian(Family):
    """Continuous response, identity link: ``y_i ~ Normal(intercept + eta_i, sigma)``.

    Priors are auto-scaled the Bambi way: every scale of the latent predictor and ``sigma``
    is multiplied by the response's sd and the intercept is centred on its mean.
    """

    name = "gaussian"
    bambi_name = "gaussian"
    has_probability_scale = False
    auto_scaled: ClassVar[tuple[str, ...]] = ("beta_sd", "intercept_sd", "focal_sd_scale",
                                              "fixed_focal_sd", "group_sd_scale", "sigma_scale")

    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        return y[:, 0], tuple(spec.categories)

    def scale_priors(self, prior: dict[str, float], data: ModelData) -> dict[str, float]:
        s = data.y_sd
        p = prior | {k: prior[k] * s for k in self.auto_scaled}
        p["intercept_mu"] = data.y_mean
        return p

    def likelihood(self, eta, *, y_obs, priors, spec, data):
        import pymc as pm

        intercept = pm.Normal("intercept", priors["prior_intercept_mu"],
                              priors["prior_intercept_sd"])
        sigma = pm.HalfNormal("sigma", priors["prior_sigma_scale"])
        return pm.Normal("y", mu=intercept + eta, sigma=sigma, observed=y_obs, dims="obs")

    def event(self, spec, data, *, category=None):
        """The mean response (group effects average out on the identity scale)."""
        return f"mean {spec.response}", None

    def event_probability(self, eta, draws, *, sd, event, weights=None):
        return np.average(eta + draws("intercept")[None, :], axis=0, weights=weights)

    def draw(self, eta, draws, rng, data):
        mu = (eta + draws("intercept")[None, :]).T  # (S, n)
        return mu + draws("sigma")[:, None] * rng.standard_normal(mu.shape)

    def log_density(self, lin, draws, y, trials=None):
        sigma = _trail(draws("sigma"), lin[0])[None]
        resid = (_trail(np.asarray(y, float), lin) - lin
                 - _trail(draws("intercept"), lin[0])[None]) / sigma
        return -0.5 * resid**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)

    def ppc_statistics(self, data):
        """Mean, sd, skewness, minimum and maximum."""
        def skew(a):
            c = a - a.mean(axis=1, keepdims=True)
            return (c**3).mean(axis=1) / np.maximum((c**2).mean(axis=1), 1e-12) ** 1.5
        return {"mean": lambda a: a.mean(axis=1), "sd": lambda a: a.std(axis=1),
                "skewness": skew, "min": lambda a: a.min(axis=1),
                "max": lambda a: a.max(axis=1)}

    def bambi_response(self, spec, data):
        return np.asarray(data.y, dtype=float)

    def bambi_priors(self, p, data):
        return {"Intercept": ("Normal", {"mu": p["intercept_mu"], "sigma": p["intercept_sd"]}),
                "sigma": ("HalfNormal", {"sigma": p["sigma_scale"]})}


class _Ordinal(Family):
    """Shared by the ordered-category families: codes 0..K-1 and K-1 thresholds."""

    ordinal = True
    has_intercept = False

    @staticmethod
    def _codes(y: np.ndarray, categories: tuple, spec: ModelSpec,
               responses: list[str]) -> np.ndarray:
        lookup = {float(c): k for k, c in enumerate(categories)}
        bad = sorted({v for v in y.ravel().tolist() if v not in lookup})
        if bad:
            raise PreparationError(f"model {spec.name!r}: response {responses} has "
                                   f"value(s) {bad} outside categories {list(categories)}")
        return np.vectorize(lookup.__getitem__, otypes=[np.int64])(y)

    def coords(self, spec, categories):
        return {"threshold": [f"{_num(a)}|{_num(b)}"
                              for a, b in zip(categories[:-1], categories[1:], strict=True)]}

    def ppc_statistics(self, data):
        """The share of every category."""
        return _shares(data.categories)


class Cumulative(_Ordinal):
    """Ordered categories, cumulative logit: ``P(y_i <= k) = expit(threshold_k - eta_i)``.

    Categories come from the spec, else the known levels of the response, else the data.
    """

    name = "cumulative"
    bambi_name = "cumulative"
    link = "logit"

    @staticmethod
    def cdf(x: np.ndarray) -> np.ndarray:
        """The link's inverse: ``P(y <= k) = cdf(threshold_k - eta)``."""
        return expit(x)

    @staticmethod
    def log_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``log(cdf(a) - cdf(b))`` for ``b < a`` without cancellation:
        ``log_expit(a) + log_expit(-b) + log1p(-exp(b - a))`` (``expit(a) - expit(b) =
        expit(a) expit(-b) (1 - exp(b - a))``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return log_expit(a) + log_expit(-b) + np.log1p(-np.exp(np.minimum(b - a, 0.0)))

    @staticmethod
    def log_cdf(x: np.ndarray) -> np.ndarray:
        return log_expit(x)

    def _distribution(self, *args, **kwargs):
        import pymc as pm

        return pm.OrderedLogistic(*args, **kwargs)

    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        y = y[:, 0]
        categories = spec.categories or known_levels or _whole(np.unique(y).tolist())
        return self._codes(y, categories, spec, self.response_columns(spec)), tuple(categories)

    def likelihood(self, eta, *, y_obs, priors, spec, data, cut_shift=None):
        """``cut_shift`` ``(n_obs, K-1)``: category-specific effects subtracted from the
        cut points per row (``spec.focal_by_category``)."""

        thresholds = _thresholds(priors["prior_threshold_sd"], len(data.categories) - 1)
        cuts = thresholds if cut_shift is None else thresholds[None, :] - cut_shift
        return self._distribution("y", eta=eta, cutpoints=cuts, observed=y_obs,
                                  compute_p=False, dims="obs")

    def event(self, spec, data, *, category=None):
        """``P(y >= categories[k])``: the top category unless ``category`` names another."""
        cats = data.categories
        k = len(cats) - 1 if category is None else category
        return f"P({spec.response} >= {_num(cats[k])})", k

    def event_probability(self, eta, draws, *, sd, event, weights=None):
        tau = draws("thresholds")[:, event - 1]  # P(y >= cat_k) = 1 - cdf(tau_{k-1} - eta)
        return _integrate(eta, sd, lambda lin: 1.0 - self.cdf(tau[None, :, None] - lin),
                          weights)

    def draw(self, eta, draws, rng, data):
        tau = draws("thresholds")  # (S, K-1), or per row (S, n, K-1)
        cum = self.cdf((tau[:, None, :] if tau.ndim == 2 else tau) - eta.T[:, :, None])
        return (rng.random(eta.T.shape)[:, :, None] > cum).sum(axis=2)  # codes 0..K-1

    def log_density(self, lin, draws, y, trials=None):
        """``log(cdf(tau_k - lin) - cdf(tau_{k-1} - lin))`` for category ``k = y``, with
        the outer categories as one-sided log-cdfs (no cancellation in the tails)."""
        tau = draws("thresholds")  # (S, K-1), or per row (S, n, K-1)
        k = np.asarray(y, dtype=np.int64)
        n_cut = tau.shape[-1]
        # thresholds above and below each row's category, (n, S) -> broadcast to lin
        if tau.ndim == 2:
            upper, lower = tau.T[np.minimum(k, n_cut - 1)], tau.T[np.maximum(k - 1, 0)]
        else:
            rows = np.arange(len(k))
            upper = tau[:, rows, np.minimum(k, n_cut - 1)].T
            lower = tau[:, rows, np.maximum(k - 1, 0)].T
        upper, lower = _trail(upper, lin), _trail(lower, lin)
        top, bottom = _trail(k == n_cut, lin), _trail(k == 0, lin)
        a, b = upper - lin, lower - lin  # log-odds of y <= k and y <= k-1
        middle = self.log_interval(a, b)  # both cdfs symmetric: 1 - cdf(b) = cdf(-b)
        return np.where(bottom, self.log_cdf(a), np.where(top, self.log_cdf(-b), middle))

    def bambi_response(self, spec, data):
        import pandas as pd

        cats = list(data.categories)
        return pd.Categorical(np.asarray(cats, dtype=object)[data.y], categories=cats,
                              ordered=True)

    def bambi_priors(self, p, data):
        """Bambi's own ordered Normal (it cannot express our first cut + gaps prior);
        locations spread over [-1, 1] so that the start point is ordered."""
        import pymc as pm

        n_cut = len(data.categories) - 1
        return {"threshold": ("Normal", {"mu": np.linspace(-1.0, 1.0, n_cut),
                                         "sigma": p["threshold_sd"],
                                         "transform": pm.distributions.transforms.ordered})}


class CumulativeProbit(Cumulative):
    """Ordered categories, cumulative probit: ``P(y_i <= k) = Phi(threshold_k - eta_i)``.

    The same thresholds, priors and focal effects as :class:`Cumulative` with a normal
    latent error instead of a logistic one (thinner tails; coefficients about 1/1.7 of the
    logit's). A relaxed variant for ``compare`` and the world checks: where the link is the
    only thing wrong, it is the variant that should predict new complexes better.
    """

    name = "cumulative_probit"
    bambi_name = None  # the workbench's own variant; the benchmark compares logit models
    link = "probit"

    @staticmethod
    def cdf(x: np.ndarray) -> np.ndarray:
        return ndtr(x)

    @staticmethod
    def log_cdf(x: np.ndarray) -> np.ndarray:
        return log_ndtr(x)

    @staticmethod
    def log_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``log(Phi(a) - Phi(b))`` for ``b < a``: from the lower tail where ``a <= -b``,
        else from the upper one (``Phi(-b) - Phi(-a)``), so the larger probability of the
        two never cancels."""
        lo, hi = np.where(a <= -b, b, -a), np.where(a <= -b, a, -b)  # Phi(hi) - Phi(lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            big, small = log_ndtr(hi), log_ndtr(lo)
            return big + np.log1p(-np.exp(np.minimum(small - big, 0.0)))

    def _distribution(self, *args, **kwargs):
        import pymc as pm

        return pm.OrderedProbit(*args, **kwargs)


class Graded(_Ordinal):
    """Item-level graded response: one latent trait per row measured by ordinal items.

    Per item j, ``P(y_ij <= k) = expit(threshold_jk - loading_j theta_i)`` with ``theta_i ~
    N(eta_i, sd_tenant^2)``; negatively worded items (the spec's ``reversed_items``) are
    reversed before coding, so every loading is positive. Plain Bambi has no such model, and
    no single event is defined for it.

    Three registered variants (the family names of a spec):

    * ``graded`` -- the latent integrated out of the likelihood per row by Gauss-Hermite
      quadrature (:mod:`models.item_response`), a loading per item: ``loading_j =
      exp(log_loading_j)`` with ``log_loading`` zero-sum (geometric mean 1, which fixes the
      latent's scale against ``sd_tenant`` and the coefficients);
    * ``graded_equal`` -- the same marginal likelihood with all loadings 1;
    * ``graded_latent`` -- equal loadings with the latent sampled as a parameter per row
      (``z_tenant``, non-centred): the earlier default, about 3,500 parameters more.

    With the latent integrated out, the log-likelihood of a row is already that of all its
    items with its latent integrated (PSIS-LOO per tenant as it stands), predictive draws
    give each row a *new* latent, and :func:`models.item_response.latent_posterior`
    recovers each row's latent after sampling.
    """

    name = "graded"
    uses_items = True
    has_event_prediction = False
    has_probability_scale = False
    obs_dims = ("obs", "item")
    reserved_names = frozenset({"tenant"})  # sd_tenant, z_tenant
    marginal: ClassVar[bool] = True  # the latent integrated out of the likelihood
    free_loadings: ClassVar[bool] = True  # a loading per item (else all 1)
    latent_sd = "sd_tenant"  # the variable holding the SD of the row-level latent
    nodes: ClassVar[int] = NODES  # Gauss-Hermite nodes per row (accuracy: item_response)

    def response_columns(self, spec: ModelSpec) -> list[str]:
        return list(spec.items)

    def encode(self, y: np.ndarray, spec: ModelSpec, *,
               known_levels: tuple = ()) -> tuple[np.ndarray, tuple]:
        """Items reversed, then coded; categories from the spec, else the data (the known
        levels of a single response column do not apply to items)."""
        y = np.array(y, dtype=float)  # a copy: reversed items are rewritten in place
        categories = spec.categories or _whole(np.unique(y).tolist())
        lo, hi = float(min(categories)), float(max(categories))
        responses = self.response_columns(spec)
        for j, col in enumerate(responses):  # reverse negatively worded items
            if col in spec.reversed_items:
                y[:, j] = lo + hi - y[:, j]
        return self._codes(y, categories, spec, responses), tuple(categories)

    def coords(self, spec, categories):
        return {"item": list(spec.items)} | super().coords(spec, categories)

    def scale_priors(self, prior: dict[str, float], data: ModelData) -> dict[str, float]:
        """Adds ``loading_sd``: the zero-sum log-loadings' prior SD (default
        :data:`LOADING_SD`: loadings mostly within a factor 2.7 of their geometric mean)."""
        return super().scale_priors(prior, data) | {
            "loading_sd": prior.get("loading_sd", LOADING_SD)}

    def loadings(self, priors, n_items: int):
        """The items' loadings: a ``loading`` variable (``free_loadings``) or ones."""
        import pymc as pm
        import pytensor.tensor as pt

        if not self.free_loadings:
            return pt.ones(n_items)
        log_loading = pm.ZeroSumNormal("log_loading", sigma=priors["prior_loading_sd"],
                                       dims="item")
        return pm.Deterministic("loading", pt.exp(log_loading), dims="item")

    def likelihood(self, eta, *, y_obs, priors, spec, data):
        import pymc as pm

        from models.item_response import items_dist, marginal_logp

        sd_t = pm.HalfNormal("sd_tenant", priors["prior_tenant_sd_scale"])
        n_items = len(spec.items)
        thresholds = _thresholds(priors["prior_threshold_sd"], len(data.categories) - 1,
                                 n_items=n_items)
        loading = self.loadings(priors, n_items)
        # y (n_obs, n_item); its log density (n_obs,): each row's items with its latent
        # integrated out
        return pm.CustomDist("y", eta, sd_t, thresholds, loading,
                             logp=lambda value, *params: marginal_logp(
                                 value, *params, nodes=self.nodes),
                             dist=items_dist, signature="(),(),(i,c),(i)->(i)",
                             dtype="int64", observed=y_obs, dims=("obs", "item"))

    def event(self, spec, data, *, category=None):
        raise ValueError(f"model {spec.name!r}: the graded family defines no single event; "
                         f"probability effects of the item-level model are not defined here")

    def event_probability(self, eta, draws, *, sd, event, weights=None):
        raise ValueError("probability effects of the item-level model are not defined here")

    def latent_log_density(self, lin, draws, y):
        """Log density of each row's items jointly given its latent ``lin`` (the linear
        predictor plus the latent; any shape ``(n, S, ...)``), summed over the items: the
        integrand of the row's marginal likelihood (:func:`diagnostics.crossval.
        latent_integrated_tree`). ``y``: codes ``(n, n_item)``; thresholds ``(S, item,
        K-1)`` and loadings ``(S, item)`` with ``S`` the draws axis of ``lin``'s second
        dimension."""
        tau = draws("thresholds")
        loading = draws("loading") if self.free_loadings else np.ones(tau.shape[:2])
        total = np.zeros(np.shape(lin))
        for j in range(tau.shape[1]):
            lam = loading[:, j].reshape((1, -1) + (1,) * (np.ndim(lin) - 2))
            total += CUMULATIVE.log_density(lam * lin, lambda _name, j=j: tau[:, j, :],
                                            y[:, j])
        return total

    def ppc_arrays(self, obs, rep, data=None):
        """Item-level: the items' answers pooled, ``(n * n_item,)`` and ``(S, n * n_item)``."""
        return obs.reshape(-1), rep.reshape(rep.shape[0], -1)


class GradedEqual(Graded):
    """:class:`Graded` with equal loadings (all 1), the latent integrated out."""

    name = "graded_equal"
    free_loadings = False


class GradedLatent(Graded):
    """:class:`Graded` with equal loadings and the latent sampled: ``theta_i = eta_i +
    sd_tenant z_i``, ``z_i ~ N(0, 1)`` a parameter per row (non-centred)."""

    name = "graded_latent"
    marginal = False
    free_loadings = False
    # a non-centred latent per row: at 0.9 the default item-level cohesion model had 4
    # divergent transitions; at 0.95 none, R-hat 1.003, bulk ESS 644 (459 s vs 354 s of
    # sampling; docs/sampler-measurements.md). A centred latent mixed far worse (ESS 46).
    min_target_accept = 0.95

    def likelihood(self, eta, *, y_obs, priors, spec, data):
        import pymc as pm
        import pytensor.tensor as pt

        # a latent trait per row, measured by the items with item-specific thresholds
        sd_t = pm.HalfNormal("sd_tenant", priors["prior_tenant_sd_scale"])
        e = pm.Normal("z_tenant", 0.0, 1.0, dims="obs")
        theta = eta + sd_t * e  # (n_obs,)
        n_items = len(spec.items)
        thresholds = _thresholds(priors["prior_threshold_sd"], len(data.categories) - 1,
                                 n_items=n_items)
        # (n_obs, n_item) latent, one row of thresholds per item
        return pm.OrderedLogistic("y", eta=pt.repeat(theta[:, None], n_items, axis=1),
                                  cutpoints=thresholds, observed=y_obs, compute_p=False,
                                  dims=("obs", "item"))


CUMULATIVE = Cumulative()
FAMILIES: Mapping[str, Family] = MappingProxyType(
    {f.name: f for f in (Bernoulli(), Binomial(), CUMULATIVE, CumulativeProbit(), Gaussian(),
                         Graded(), GradedEqual(), GradedLatent())})


def get_family(name: str, *, owner: str | None = None) -> Family:
    """The registered family called ``name``.

    Raises ``ValueError`` ("unknown family", prefixed by ``owner`` when given) otherwise.
    """
    if isinstance(name, str) and name in FAMILIES:
        return FAMILIES[name]
    where = f"{owner}: " if owner else ""
    raise ValueError(f"{where}unknown family {name!r}; choose one of {tuple(FAMILIES)}")
