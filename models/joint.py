"""Two-part outcomes as one joint model, and their *total* effect on the probability scale.

Two outcomes of the study are defined only where another outcome opens a gate: friendly
contact among tenants with at least regular contact (``contact >= 2``, adjusted for daily
contact), and activity participation where activities are organised. Their standalone
models estimate a *conditional* effect of the living form: among the tenants whose gate is
open, holding the gate's own outcome fixed. When a form changes the gate as well, or when
something unmeasured (a sociable tenant, a lively complex) drives both parts, that is
neither the form's total effect nor a clean direct one -- conditioning on the gate opens a
collider path.

The *total* effect asks what a housing association asks: how many tenants have friendly
contact with neighbours, ``P(contact >= 2 and friendly)``, if they lived in form f. It is
computed draw-wise from a joint model of both parts::

    gate:  y1_i ~ family_1(eta1_i),   eta1_i = X1_i b1 + form1[f_i] + u1[c_i]
    part:  y2_i ~ family_2(eta2_i),   eta2_i = X2_i b2 + form2[f_i] + u2[c_i]  (open rows)
    (u1, u2)[c] ~ MvNormal(0, diag(sd) R diag(sd)),  R ~ LKJ(lkj_eta)

with the complex effects of the two parts *correlated*, so that a new complex's total
probability integrates over their joint distribution (2-D Gauss-Hermite per draw)::

    P_total(f) = mean_i  E_u[ sum_{k open} P1(y1 = k | eta1_i + u1) P2(event | eta2_i(k) + u2) ]

where ``eta2_i(k)`` sets the part's mediator term (``contact_daily``) to what gate category
k implies. Each part keeps its own coefficients, form effects (zero-sum, hierarchical) and
intercept or thresholds, with the priors of its own spec.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy.special import expit

from models.build import contrast_labels
from models.design import ModelData, aligned_frame, design_at
from models.draws import posterior_draws
from models.errors import PreparationError
from models.families import _thresholds
from models.spec import ModelSpec
from models.terms import covariate_matrix

__all__ = ["FAMILIES", "TwoPart", "build_joint_model", "joint_data_hash", "part_design",
           "total_event_label", "total_probabilities"]

FAMILIES = ("bernoulli", "cumulative")  # the families a part of a joint model may have
# 5 nodes per dimension (25 in 2-D): on the default data the seven forms' total
# probabilities agree with 15 nodes (225) to 5 decimals, at a tenth of the time
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(5)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class TwoPart:
    """A two-part outcome: a *gate* on every analysed row and a *part* on the open rows.

    ``open_categories``: the gate's response values for which the part is defined (the
    part's ``subset``); ``mediator``: a term of the part whose value follows from the gate
    category (``mediator_values``: gate value -> term value), e.g. ``contact_daily`` = 1 iff
    contact is daily. ``gate_label`` reads the open gate in words (``contact >= 2``).
    """

    name: str
    gate: ModelSpec
    part: ModelSpec
    open_categories: tuple
    gate_label: str
    mediator: str | None = None
    mediator_values: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for spec in (self.gate, self.part):
            if spec.family not in FAMILIES:
                raise ValueError(f"two-part model {self.name!r}: part {spec.name!r} has family "
                                 f"{spec.family!r}; a joint model takes {FAMILIES}")
            if spec.variant != "hierarchical" or len(spec.random_levels) != 1 or spec.slopes:
                raise ValueError(f"two-part model {self.name!r}: part {spec.name!r} needs one "
                                 f"random level below a hierarchical focal level")
        if self.gate.levels != self.part.levels or self.gate.focal != self.part.focal:
            raise ValueError(f"two-part model {self.name!r}: the parts' levels differ "
                             f"({self.gate.levels} vs {self.part.levels})")
        if self.gate.family == self.part.family == "cumulative":
            raise ValueError(f"two-part model {self.name!r}: at most one ordinal part")
        if self.mediator and set(self.mediator_values) != set(self.open_categories):
            raise ValueError(f"two-part model {self.name!r}: mediator values "
                             f"{dict(self.mediator_values)} must cover the open gate "
                             f"categories {self.open_categories}")
        object.__setattr__(self, "mediator_values", MappingProxyType(dict(self.mediator_values)))

    def with_priors(self, priors: dict) -> TwoPart:
        """Both parts with ``priors`` on top of their own (``lkj_eta`` and
        ``group_sd_scale`` of the shared complex effects are read from the gate's)."""
        import dataclasses

        return dataclasses.replace(self, gate=self.gate.with_(priors=priors),
                                   part=self.part.with_(priors=priors))

    @property
    def outcome(self) -> str:
        """The outcome whose total the model estimates (the part's)."""
        return self.part.outcome

    @property
    def level(self) -> str:
        """The random level whose effects the parts share (the complex)."""
        return self.gate.random_levels[0]

    @property
    def parts(self) -> tuple[ModelSpec, ModelSpec]:
        """``(gate, part)``."""
        return self.gate, self.part

    @property
    def adjustment(self) -> str | None:
        """The parts' adjustment set."""
        return self.part.adjustment

    def to_json(self) -> str:
        """Canonical JSON (part of the joint fit's hash)."""
        return json.dumps({"name": self.name, "gate": json.loads(self.gate.to_json()),
                           "part": json.loads(self.part.to_json()),
                           "open": [float(c) for c in self.open_categories],
                           "mediator": self.mediator,
                           "mediator_values": {str(k): float(v)
                                               for k, v in self.mediator_values.items()}},
                          sort_keys=True)


def joint_data_hash(d1: ModelData, d2: ModelData) -> str:
    """Hash over both parts' data."""
    return hashlib.sha256(f"{d1.data_hash()}|{d2.data_hash()}".encode()).hexdigest()[:16]


def _check_levels(joint: TwoPart, d1: ModelData, d2: ModelData) -> None:
    for lv in joint.gate.levels:
        if d1.level_labels[lv] != d2.level_labels[lv]:
            raise PreparationError(f"two-part model {joint.name!r}: the parts see different "
                                   f"groups of {lv!r}")


def build_joint_model(joint: TwoPart, d1: ModelData, d2: ModelData) -> pm.Model:
    """The joint PyMC model of both parts (see the module docstring).

    Variables of each part live in a submodel named after the part's spec
    (``contact::beta``, ``friendly_contact::living_form_contrast``); the shared complex
    effects are ``sd_<level>`` (dim ``part``), ``corr_<level>`` and the non-centred
    ``z_<level>`` at the root.
    """
    _check_levels(joint, d1, d2)
    gate, part = joint.parts
    lv, focal = joint.level, gate.focal
    key, fkey = gate.level_key(lv), gate.level_key(focal)
    coords = {key: list(d1.level_labels[lv]), fkey: list(d1.level_labels[focal]),
              "contrast": list(contrast_labels(gate, d1)), "part": [gate.name, part.name],
              "pair": [f"{gate.name}, {part.name}"]}
    for spec, d in ((gate, d1), (part, d2)):
        coords[f"obs_{spec.name}"] = np.arange(d.n)
        coords[f"term_{spec.name}"] = list(d.term_names)
        coords |= spec.family_impl.coords(spec, d.categories)  # thresholds
    prior = gate.prior
    with pm.Model(coords=coords) as model:
        sd_dist = pm.HalfNormal.dist(prior["group_sd_scale"], shape=2)
        chol, corr, sds = pm.LKJCholeskyCov(f"chol_{key}", n=2, eta=prior["lkj_eta"],
                                            sd_dist=sd_dist, compute_corr=True,
                                            store_in_trace=False)
        pm.Deterministic(f"sd_{key}", sds, dims="part")
        pm.Deterministic(f"corr_{key}", corr[0, 1][None], dims="pair")
        z = pm.Normal(f"z_{key}", 0.0, 1.0, dims=(key, "part"))
        u = pt.dot(z, chol.T)  # (n_complex, 2): correlated complex effects
        for j, (spec, d) in enumerate(((gate, d1), (part, d2))):
            with pm.Model(name=spec.name):
                _part(spec, d, u[:, j], key=key, fkey=fkey)
    return model


def _part(spec: ModelSpec, d: ModelData, u, *, key: str, fkey: str) -> None:
    """One part's predictor and likelihood inside its submodel."""
    p = spec.family_impl.scale_priors(spec.prior, d)  # e.g. the intercept's location
    obs, term = f"obs_{spec.name}", f"term_{spec.name}"
    X = pm.Data("X", d.X, dims=(obs, term))
    y_obs = pm.Data("y_obs", d.y, dims=obs)
    idx_c = pm.Data(f"idx_{key}", d.level_idx[spec.random_levels[0]], dims=obs)
    idx_f = pm.Data(f"idx_{fkey}", d.level_idx[spec.focal], dims=obs)
    beta = pm.Normal("beta", 0.0, p["beta_sd"], dims=term)
    sd_f = pm.HalfNormal(f"sd_{fkey}", p["focal_sd_scale"])
    if spec.focal_centered:
        effect = pm.ZeroSumNormal(f"{fkey}_effect", sigma=sd_f, dims=fkey)
    else:
        raw = pm.ZeroSumNormal(f"{fkey}_raw", sigma=1.0, dims=fkey)
        effect = pm.Deterministic(f"{fkey}_effect", sd_f * raw, dims=fkey)
    labels = list(d.level_labels[spec.focal])
    ref = labels.index(spec.reference)
    others = np.array([j for j in range(len(labels)) if j != ref])
    pm.Deterministic(f"{fkey}_contrast", effect[others] - effect[ref], dims="contrast")
    eta = pt.dot(X, beta) + effect[idx_f] + u[idx_c]
    if spec.family == "bernoulli":
        intercept = pm.Normal("intercept", p["intercept_mu"], p["intercept_sd"])
        pm.Bernoulli("y", logit_p=intercept + eta, observed=y_obs, dims=obs)
    else:
        cuts = _thresholds(p["threshold_sd"], len(d.categories) - 1)
        pm.OrderedLogistic("y", eta=eta, cutpoints=cuts, observed=y_obs, compute_p=False,
                           dims=obs)


# -- the total effect --------------------------------------------------------------------

def part_design(joint: TwoPart, frame: pd.DataFrame, d1: ModelData,
                d2: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """The part's design for the gate's analysed rows: ``(X2, keep)``.

    ``keep`` marks the gate rows whose part covariates are complete (the total effect's
    population); the mediator column is set later per gate category.
    """
    X = covariate_matrix(aligned_frame(frame, joint.gate, d1), joint.part.terms)
    if tuple(X.columns) != d2.term_names:
        raise PreparationError(f"two-part model {joint.name!r}: the part's design on the gate's "
                               f"rows has columns {list(X.columns)}, its fit {list(d2.term_names)}")
    if joint.mediator:
        X[joint.mediator] = 0.0  # set per gate category; never missing here
    keep = ~X.isna().any(axis=1).to_numpy()
    return X.to_numpy(dtype=float), keep


def _category_prob(family: str, eta: np.ndarray, cuts_or_b0: np.ndarray, k: int,
                   at_least: bool) -> np.ndarray:
    """``P(y = k)`` (or ``P(y >= k)`` with ``at_least``) for codes 0..K-1, any shape of
    ``eta`` whose second axis is the draw; ``cuts_or_b0`` (S, K-1) thresholds or (S,)
    intercept."""
    shape = (1, -1) + (1,) * (eta.ndim - 2)
    if family == "bernoulli":
        p1 = expit(eta + cuts_or_b0.reshape(shape))
        return p1 if k == 1 else 1.0 - p1
    n_cut = cuts_or_b0.shape[1]

    def below(j):  # P(y <= j)
        if j < 0:
            return 0.0
        if j >= n_cut:
            return 1.0
        return expit(cuts_or_b0[:, j].reshape(shape) - eta)

    return 1.0 - below(k - 1) if at_least else below(k) - below(k - 1)


def total_probabilities(tree: xr.DataTree, joint: TwoPart, d1: ModelData, d2: ModelData,
                        frame: pd.DataFrame, *, estimand: str = "new_complex",
                        max_draws: int = 400, seed: int = 0, event: int | None = None,
                        rows: np.ndarray | None = None,
                        row_weights: np.ndarray | None = None,
                        chunk: int = 25) -> tuple[xr.DataArray, int]:
    """Draws of the population-average *total* probability per focal level.

    The population is the gate's analysed rows (``rows`` of them, default all) with
    complete part covariates; each is placed in every form. ``new_complex`` integrates over
    the correlated complex effects of both parts, ``typical_complex`` sets them to 0 (the
    typical complex).
    Returns ``(array (sample, form), n)`` with ``n`` the population's size. ``row_weights``
    (one per gate row) weight the rows' average (default equal).
    """
    gate, part = joint.parts
    fkey, key = gate.level_key(gate.focal), gate.level_key(joint.level)
    draws = posterior_draws(tree, max_draws=max_draws, seed=seed)

    def g(var: str) -> np.ndarray:  # the gate's variables
        return draws(f"{gate.name}::{var}")

    def p(var: str) -> np.ndarray:  # the part's
        return draws(f"{part.name}::{var}")

    X2, keep = part_design(joint, frame, d1, d2)
    if rows is not None:
        keep &= np.isin(np.arange(d1.n), rows)
    if row_weights is None or isinstance(row_weights, np.ndarray | list):
        X1, X2 = d1.X[keep], X2[keep]
        w_rows = None if row_weights is None else np.asarray(row_weights, float)[..., keep]
    else:  # a population's target (data.population.Target), or a callable making one
        t = row_weights(gate, d1, np.flatnonzero(keep), seed) if callable(row_weights) \
            else row_weights
        X1 = design_at(d1.X, d1.term_names, gate.terms, t.frame, t.donors, t.values)
        X2 = design_at(X2, d2.term_names, part.terms, t.frame, t.donors, t.values)
        w_rows = np.asarray(t.weights, float)
    fam1, fam2 = gate.family, part.family
    par1 = g("intercept" if fam1 == "bernoulli" else "thresholds")
    par2 = p("intercept" if fam2 == "bernoulli" else "thresholds")
    k2 = (len(d2.categories) - 1 if event is None else event) if fam2 == "cumulative" else 1
    open_codes = [list(d1.categories).index(c) if fam1 == "cumulative" else int(c)
                  for c in joint.open_categories]
    med = d2.term_names.index(joint.mediator) if joint.mediator else None
    fixed1 = X1 @ g("beta").T  # (n, S)
    b2 = p("beta")
    fixed2 = {}
    for k, code in zip(joint.open_categories, open_codes, strict=True):
        if med is not None:
            X2[:, med] = joint.mediator_values[k]
        fixed2[code] = X2 @ b2.T
    e1, e2 = g(f"{fkey}_effect"), p(f"{fkey}_effect")  # (S, F)
    sd, rho = draws(f"sd_{key}"), draws(f"corr_{key}")[:, 0]  # (S, 2), (S,)
    if estimand == "new_complex":
        g1, g2 = np.meshgrid(_GH_X, _GH_X, indexing="ij")
        w = np.outer(_GH_W, _GH_W).ravel()
        g1, g2 = g1.ravel(), g2.ravel()
        u1 = sd[:, :1] * g1[None, :]  # (S, Q)
        u2 = sd[:, 1:] * (rho[:, None] * g1[None, :] + np.sqrt(1 - rho[:, None] ** 2) * g2)
    elif estimand == "typical_complex":
        u1 = u2 = np.zeros((len(sd), 1))
        w = np.ones(1)
    else:
        raise ValueError(f"unknown estimand {estimand!r}")
    forms = list(d1.level_labels[gate.focal])
    out = np.empty((len(sd), len(forms)))
    for f in range(len(forms)):
        for s0 in range(0, len(sd), chunk):  # chunks of draws bound the (n, s, Q) arrays
            s = slice(s0, min(s0 + chunk, len(sd)))  # per-draw weights may be longer
            eta1 = (fixed1[:, s] + e1[s, f])[:, :, None] + u1[None, s]
            total = 0.0
            for code in open_codes:
                eta2 = (fixed2[code][:, s] + e2[s, f])[:, :, None] + u2[None, s]
                total = total + _category_prob(fam1, eta1, par1[s], code, at_least=False) * \
                    _category_prob(fam2, eta2, par2[s], k2, at_least=True)
            out[s, f] = np.average(total @ w, axis=0, weights=w_rows if w_rows is None or
                                   w_rows.ndim == 1 else w_rows[s].T)  # per-draw weights
    return xr.DataArray(out, dims=("sample", gate.focal), coords={gate.focal: forms}), \
        int(keep.sum())


def total_event_label(joint: TwoPart, d2: ModelData, event: int | None = None) -> str:
    """``P(contact >= 2 and friendly_contact = 1)``."""
    label, _ = joint.part.family_impl.event(joint.part, d2, category=event)
    return f"P({joint.gate_label} and {label[2:-1]})"
