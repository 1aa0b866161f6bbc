"""Sampling: compile each model structure once, then sample it on any data and priors.

Models whose graphs have the same shapes (family, number of terms, group counts, variant)
share one compiled nutpie model; a new data set or prior setting is swapped in with
``CompiledModel.with_data`` instead of recompiling (docs/sampler-measurements.md: 18-20 s
per refit vs 56-96 s for a fresh compile of the contact model).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import pymc as pm
import xarray as xr

from inference.cache import jax_host_devices, reproducible_arithmetic, use_jax_cache
from models.build import build_model, data_updates, model_coords
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["ADAPTATIONS", "SAMPLERS", "Engine", "SamplerSettings", "chain_length",
           "chains_to_add", "continue_until_met", "effective_target_accept", "first_draws",
           "jax_available", "next_checkpoint"]

log = logging.getLogger(__name__)
# numba without fastmath: the same seed gives the same draws whether a model is compiled
# fresh or loaded from the compile cache (inference/cache.py)
reproducible_arithmetic()
jax_host_devices()
# "numpyro": NumPyro's NUTS through PyMC's JAX path (the optional ``jax`` extra: ``uv sync
# --extra jax``); compiled per fit by XLA, kept in the project's JAX cache between processes
SAMPLERS = ("nutpie", "pymc", "numpyro")
# nutpie's mass-matrix adaptation. "draw_diag" (draw variance only, as Stan and PyMC do)
# gave 2.5-3x the minimum bulk ESS of nutpie's default "diag" (draw + gradient variance) on
# the contact model and 3-7x on the item-level model at about 1.5x the sampling time: the
# default's larger steps under-explore the group SDs and thresholds
# (docs/sampler-measurements.md); "low_rank" was worse (divergences, 20x slower).
ADAPTATIONS = ("draw_diag", "diag", "low_rank")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample; separate from the model spec. ``seed`` is always explicit."""

    sampler: str = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    seed: int = 1
    prior_draws: int = 500
    predictive: bool = True  # prior/posterior predictive + log_likelihood + log_prior
    adaptation: str = "draw_diag"  # nutpie's mass-matrix adaptation (see ADAPTATIONS)
    # at most this many rounds of more draws where a reported parameter's R-hat or ESS
    # misses its threshold (Engine._sample_enough); 0: judge the fit as sampled
    top_up: int = 0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {SAMPLERS}")
        if self.sampler == "numpyro" and not jax_available():
            raise ValueError("sampler 'numpyro' needs JAX and NumPyro, which are an optional "
                             "extra: run `uv sync --extra jax` (or pip install "
                             "'clusterwonen[jax]') and try again")
        if self.adaptation not in ADAPTATIONS:
            raise ValueError(f"unknown adaptation {self.adaptation!r}; choose one of "
                             f"{ADAPTATIONS}")
        if self.top_up < 0:
            raise ValueError(f"top_up must be 0 or more, got {self.top_up}")
        for k in ("chains", "draws", "tune"):
            if getattr(self, k) < (1 if k != "tune" else 0):
                raise ValueError(f"{k} must be positive, got {getattr(self, k)}")
        if not 0.5 <= self.target_accept < 1:
            raise ValueError(f"target_accept must be in [0.5, 1), got {self.target_accept}")

    def to_json(self) -> str:
        """Canonical JSON (part of every fit's hash)."""
        return json.dumps(asdict(self), sort_keys=True)


def jax_available() -> bool:
    """Whether the optional JAX extra (jax, numpyro) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("jax", "numpyro"))


def effective_target_accept(spec: ModelSpec, settings: SamplerSettings) -> float:
    """The run's target acceptance, raised to what the spec's family needs at least."""
    return max(settings.target_accept, spec.family_impl.min_target_accept)


def _shape_key(spec: ModelSpec, data: ModelData) -> str:
    return json.dumps([spec.structure_key, data.X.shape[1], len(data.categories),
                       [len(data.level_labels[lv]) for lv in spec.levels],
                       spec.levels, spec.focal, [p[:2] for p in data.parametrisation],
                       data.level_labels[spec.focal].index(spec.reference)
                       if spec.focal else None])


def _relabel(tree: xr.DataTree, spec: ModelSpec, data: ModelData) -> xr.DataTree:
    """Give a reused compiled model's output this data set's coordinate labels."""
    coords = model_coords(spec, data)
    out = tree.copy()
    for node in out.subtree:
        ds = node.dataset
        if ds is None:
            continue
        upd = {k: v for k, v in coords.items() if k in ds.dims and ds.sizes[k] == len(v)}
        if upd:
            node.dataset = ds.assign_coords(upd)
    return out


# an ESS round asks for this much more than the shortfall: ESS estimates from a few
# hundred draws per chain vary by 10-20% and a round that falls just short costs a warm-up
ESS_MARGIN = 1.25


def chain_length(draws: int, chains: int, least_ess: float, needed: float, asked: int, *,
                 floor: int) -> int:
    """Draws per chain for an R-hat round: at least ``floor``; more where the least bulk or
    tail ESS per chain of the current ``chains`` x ``draws`` (``least_ess / chains``) is
    under the ESS needed per chain asked for (``needed / asked``): scaled to reach it with
    :data:`ESS_MARGIN`, in whole hundreds of draws, at most ``2 * floor`` (a chain stuck
    away from the others has almost no ESS, and no length makes up for it)."""
    if not np.isfinite(least_ess) or least_ess <= 0:
        return floor
    want = draws * ESS_MARGIN * (needed / asked) / (least_ess / chains)
    return int(min(max(floor, 100 * np.ceil(want / 100)), 2 * floor))


# a continued run checks its chains at draws c0 < c1 < ...: each checkpoint at least this
# much longer than the last (fewer looks than every 100 draws: a rule that stops the first
# time R-hat dips under 1.01 by chance would judge its own luck), at most twice as long
CHECKPOINT_GROWTH = 1.4


def next_checkpoint(draws: int, chains: int, least_ess: float, needed: float, asked: int,
                    *, cap: int) -> int:
    """The next checkpoint of a continued run (:meth:`Engine._sample_continued`) after
    ``chains`` x ``draws``: :data:`CHECKPOINT_GROWTH` times longer, or as long as the least
    bulk or tail ESS per chain says the ESS needed per chain asked for is reached (ESS grows
    with the draws, :data:`ESS_MARGIN` on top), in whole hundreds of draws, at most twice as
    long and at most ``cap``."""
    grow = draws * CHECKPOINT_GROWTH
    want = grow
    if np.isfinite(least_ess) and least_ess > 0:
        want = draws * ESS_MARGIN * (needed / asked) / (least_ess / chains)
    return int(min(cap, 2 * draws, 100 * np.ceil(min(max(grow, want), 2 * draws) / 100)))


def first_draws(tree: xr.DataTree, n: int) -> xr.DataTree:
    """``tree`` with every group's first ``n`` draws per chain (groups without draws as
    they are); attributes kept."""
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        nodes[node.path] = ds.isel(draw=slice(0, n)) if "draw" in ds.dims else ds
    out = xr.DataTree.from_dict(nodes)
    out.attrs = dict(tree.attrs)
    return out


def _why_short(short: dict) -> str:
    """What a round of more draws answers, from :func:`diagnostics.convergence.
    shortfall_detail`: R-hat where it is short, else the least ESS."""
    if "rhat" in short["short"]:
        return f"R-hat {short['max_r_hat']:.3f} > 1.01: {short['worst']}"
    return f"least ESS {short['least_ess']:.0f} < {short['ess_needed']:.0f}: {short['worst']}"


def continue_until_met(draws_at, settings: SamplerSettings, cap: int,
                       clock=time.perf_counter) -> xr.DataTree:
    """Judge one run of chains at growing checkpoints until every reported parameter meets
    its R-hat and ESS thresholds, the draws reach ``cap`` or the checks have had
    ``settings.top_up`` more looks. ``draws_at(n)`` blocks until each chain holds ``n``
    draws after warm-up and returns the run so far, at least ``n`` draws per chain.

    The kept draws are each chain's first ``n`` at the checkpoint that passed: the same
    whatever the sampler had drawn by then, so a seed gives the same fit. Attributes as
    :meth:`Engine._sample_enough` (``rounds`` records each checkpoint: action
    ``"continued"``)."""
    from diagnostics.convergence import shortfall_detail

    t0 = clock()
    n = min(settings.draws, cap)
    rounds, done = [], []
    why = ""
    while True:
        tree = first_draws(draws_at(n), n)
        tree.attrs["chains_requested"] = settings.chains
        rounds.append({"round": len(rounds), "action": "continued" if rounds else "first",
                       "chains": settings.chains, "draws": n, "tune": settings.tune,
                       "why": why, "seconds": round(clock() - t0, 1)})
        if rounds[-1]["action"] == "continued":
            done.append(f"continued to {settings.chains} x {n} draws ({why})")
        short = shortfall_detail(tree)
        if not short["short"] or n >= cap or len(done) >= settings.top_up:
            break
        why = _why_short(short)
        n = next_checkpoint(n, settings.chains, short["least_ess"], short["ess_needed"],
                            settings.chains, cap=cap)
        log.info("%s; the chains go on to %d draws (look %d of at most %d)", why, n,
                 len(done) + 1, settings.top_up)
    tree.attrs["top_up_rounds"] = len(done)
    tree.attrs["top_up"] = "; ".join(done) or "none"
    tree.attrs["rounds"] = json.dumps(rounds)
    return tree


def _least_draws(tree: xr.DataTree) -> int:
    """Draws every chain holds in a run still going (nutpie pads the shorter chains of
    ``inspect`` with NaN)."""
    energy = tree["sample_stats"]["energy"].values if "energy" in tree["sample_stats"] else \
        next(iter(tree["posterior"].data_vars.values())).values
    energy = energy.reshape(energy.shape[0], energy.shape[1], -1)[..., 0]
    return int(np.isfinite(energy).sum(axis=1).min())


def _round_record(tree: xr.DataTree) -> dict:
    """What ``run.json`` records of a fit's sampling rounds (:meth:`Engine._sample_enough`)."""
    return {"top_up_rounds": tree.attrs["top_up_rounds"], "top_up": tree.attrs["top_up"],
            "rounds": json.loads(tree.attrs.get("rounds", "[]"))}


def _more_chains(tree: xr.DataTree, more: xr.DataTree) -> xr.DataTree:
    """``tree`` with ``more``'s chains appended (numbered after its own) in every group
    that has a chain dimension; attributes are ``tree``'s."""
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        path = node.path
        group = path.strip("/")
        if "chain" in ds.dims and group and group in more.children:
            extra = more[group].to_dataset(inherit=False)
            extra = extra.assign_coords(chain=np.arange(extra.sizes["chain"])
                                        + ds.sizes["chain"])
            ds = xr.concat([ds, extra], dim="chain", combine_attrs="override")
        nodes[path] = ds
    out = xr.DataTree.from_dict(nodes)
    out.attrs = dict(tree.attrs)
    return out


def chains_to_add(chains: int, least_ess: float, needed: float, asked: int) -> int:
    """Chains an ESS round appends to ``chains`` for the least bulk/tail ESS
    (``least_ess``) to reach ``needed`` with :data:`ESS_MARGIN`, if ESS grows in
    proportion to the chains: at least ``ceil(asked / 2)``, at most ``2 * asked``."""
    low, high = -(-asked // 2), 2 * asked
    if not np.isfinite(least_ess) or least_ess <= 0:
        return high
    want = int(np.ceil(chains * (ESS_MARGIN * needed / least_ess - 1)))
    return int(min(max(want, low), high))


def _compile(model: pm.Model):
    """nutpie's compiled model of ``model``."""
    import nutpie

    with warnings.catch_warnings():
        # pip's PyTensor links no BLAS; only the initial point of an LKJ prior (varying
        # slopes, joint models) compiles an op that would use it, once, in C
        warnings.filterwarnings("ignore", "PyTensor could not link to a BLAS")
        return nutpie.compile_pymc_model(model)


class Engine:
    """Fits specs on data, keeping one compiled model per graph shape for reuse.

    ``timings`` records, per fit, seconds spent compiling, sampling and post-processing.
    ``cores`` caps nutpie's sampling threads (default: all cores); a Dask worker sets it to
    its own thread count so that workers do not oversubscribe the machine. Draws do not
    depend on it (each chain has its own seeded stream). ``progress``: nutpie's progress
    bar per fit (default: when standard output is a terminal; plain lines otherwise).
    """

    def __init__(self, *, cores: int | None = None, progress: bool | None = None) -> None:
        self._cache: dict[str, tuple[pm.Model, object]] = {}
        self.timings: list[dict] = []
        self.cores = cores
        self.progress = sys.stdout.isatty() if progress is None else progress

    def model_for(self, spec: ModelSpec, data: ModelData) -> tuple[pm.Model, object | None,
                                                                     float]:
        """Return ``(pm_model, compiled_or_None, compile_seconds)`` with data swapped in."""
        key = _shape_key(spec, data)
        t0 = time.perf_counter()
        if key not in self._cache:
            model = build_model(spec, data)
            self._cache[key] = (model, _compile(model))
            log.info("compiled %s in %.1f s", spec.name, time.perf_counter() - t0)
        model, compiled = self._cache[key]
        updates = data_updates(spec, data)
        known = {var.name for var in compiled.shared_var_keys}  # unused priors are pruned
        compiled = compiled.with_data(**{k: v for k, v in updates.items() if k in known})
        with model:
            pm.set_data(updates, coords={"obs": np.arange(data.n)})
        return model, compiled, time.perf_counter() - t0

    def fit(self, spec: ModelSpec, data: ModelData, settings: SamplerSettings) -> xr.DataTree:
        """Sample the posterior (and predictive groups) of ``spec`` on ``data``."""
        t0 = time.perf_counter()
        target_accept = effective_target_accept(spec, settings)
        if settings.sampler == "nutpie":
            model, compiled, t_compile = self.model_for(spec, data)
        else:
            model, compiled = build_model(spec, data), None
            t_compile = time.perf_counter() - t0
        t1 = time.perf_counter()
        tree = self._sample_enough(model, compiled, settings, target_accept)
        t_sample = time.perf_counter() - t1
        tree = _relabel(tree, spec, data)
        t2 = time.perf_counter()
        phases = {}
        if settings.predictive:
            tree = self._add_predictive(tree, model, settings, phases)
        tree.attrs["target_accept"] = target_accept
        # per random level: centred or not, and the reliability the choice was made from
        tree.attrs["parametrisation"] = json.dumps(
            {lv: {"choice": how, "reliability": None if rel != rel else round(rel, 3)}
             for lv, how, rel in data.parametrisation})
        self.timings.append({"model": spec.name, "target_accept": target_accept,
                             "compile_s": t_compile, "sample_s": t_sample,
                             **_round_record(tree), **phases, "post_s": time.perf_counter() - t2,
                             "total_s": time.perf_counter() - t0})
        return tree

    def fit_joint(self, joint, d1: ModelData, d2: ModelData,
                  settings: SamplerSettings) -> xr.DataTree:
        """Sample the joint model of a two-part outcome (:mod:`models.joint`).

        Compiled once per fit (one per two-part outcome and adjustment set); no predictive
        groups: the parts' own models carry the predictive checks and LOO.
        """
        from models.joint import build_joint_model

        t0 = time.perf_counter()
        target_accept = max(effective_target_accept(s, settings) for s in joint.parts)
        model = build_joint_model(joint, d1, d2)
        compiled = _compile(model) if settings.sampler == "nutpie" else None
        t_compile = time.perf_counter() - t0
        t1 = time.perf_counter()
        tree = self._sample_enough(model, compiled, settings, target_accept)
        tree.attrs["target_accept"] = target_accept
        self.timings.append({"model": joint.name, "target_accept": target_accept,
                             "compile_s": t_compile, "sample_s": time.perf_counter() - t1,
                             **_round_record(tree), "total_s": time.perf_counter() - t0})
        return tree

    def _sample_enough(self, model: pm.Model, compiled, settings: SamplerSettings,
                       target_accept: float) -> xr.DataTree:
        """Posterior draws in rounds: a first round of ``settings.chains`` x
        ``settings.draws``, then, where a reported parameter misses its R-hat or ESS
        threshold (:func:`diagnostics.convergence.shortfall`), more draws from the same
        compiled model with new seeds, at most ``settings.top_up`` rounds:

        * only ESS short: more chains of ``draws`` each, appended (ESS adds up over chains;
          the earlier rounds' draws are kept as they were). How many is sized by the
          shortfall (:func:`chains_to_add`): enough for the least bulk or tail ESS to reach
          its target with a 25% margin if ESS grows in proportion to the chains, at least
          half and at most twice ``settings.chains``;
        * R-hat short: more chains cannot cure it -- R-hat compares each chain's variance
          with the spread between chains, and a parameter that mixes slowly leaves every
          chain of the same length equally unsettled (measured on the default run: the
          joint friendly-contact model's ``sd_complex_id[friendly_contact]`` had R-hat
          1.013 at 4 chains and 1.014 at 12). Round ``k`` draws ``settings.chains`` new
          chains of at least ``(k + 1) * draws`` each and they *replace* the current ones
          (chains of unequal length cannot be pooled). Split R-hat stays above 1.01 by
          chance alone while a chain holds fewer than about 100 effective draws, so where
          the least ESS per chain says the chains need to be longer still, they are, up
          to twice that (:func:`chain_length`).

        The ESS a parameter needs stays ``ess_per_chain`` times the chains *asked for*
        (attribute ``chains_requested``), so the default run can start small and draw
        until the target is met. Divergences are not topped up: more draws from a
        geometry the sampler cannot follow do not make them trustworthy. Attributes
        ``chains_requested``, ``top_up_rounds``, ``top_up`` (what each round after the
        first did, and why) and ``rounds`` (JSON: one record per round, the first
        included, with its chains, draws, warm-up, seconds and reason) record it.
        """
        from diagnostics.convergence import shortfall_detail

        if compiled is not None and settings.top_up and (self.cores is None
                                                          or self.cores >= settings.chains):
            return self._sample_continued(compiled, settings, target_accept)
        t0 = time.perf_counter()
        tree = self._sample(model, compiled, settings, target_accept)
        tree.attrs["chains_requested"] = settings.chains
        rounds = [{"round": 0, "action": "first", "chains": settings.chains,
                   "draws": settings.draws, "tune": settings.tune, "why": "",
                   "seconds": round(time.perf_counter() - t0, 1)}]
        done: list[str] = []
        while len(done) < settings.top_up and (short := shortfall_detail(tree))["short"]:
            k = len(done) + 1
            seed = int(np.random.default_rng([settings.seed, 13, k]).integers(2**31))
            draws = tree["posterior"].sizes["draw"]
            t0 = time.perf_counter()
            if "rhat" in short["short"]:
                longer = chain_length(draws, tree["posterior"].sizes["chain"],
                                      short["least_ess"], short["ess_needed"],
                                      settings.chains, floor=(k + 1) * settings.draws)
                why = _why_short(short)
                log.info("%s; %d new chains of %d draws replace the %d-draw ones (round %d "
                         "of at most %d, seed %d)", why, settings.chains, longer, draws, k,
                         settings.top_up, seed)
                attrs = dict(tree.attrs)
                tree = self._sample(model, compiled, replace(settings, seed=seed,
                                                             draws=longer), target_accept)
                tree.attrs.update(attrs)
                rec = {"action": "longer chains", "chains": settings.chains, "draws": longer}
                done.append(f"longer chains ({settings.chains} x {longer} draws, {why})")
            else:
                have = tree["posterior"].sizes["chain"]
                add = chains_to_add(have, short["least_ess"], short["ess_needed"],
                                    settings.chains)
                why = _why_short(short)
                log.info("%s; %d more chains of %d draws (round %d of at most %d, seed %d)",
                         why, add, draws, k, settings.top_up, seed)
                more = self._sample(model, compiled, replace(settings, seed=seed, draws=draws,
                                                             chains=add), target_accept)
                tree = _more_chains(tree, more)
                rec = {"action": "more chains", "chains": add, "draws": draws}
                done.append(f"more chains (+{add} x {draws} draws, "
                            f"{tree['posterior'].sizes['chain']} in all, {why})")
            rounds.append({"round": k, **rec, "tune": settings.tune, "why": why,
                           "seconds": round(time.perf_counter() - t0, 1)})
        tree.attrs["top_up_rounds"] = len(done)
        tree.attrs["top_up"] = "; ".join(done) or "none"
        tree.attrs["rounds"] = json.dumps(rounds)
        return tree

    def _sample_continued(self, compiled, settings: SamplerSettings,
                          target_accept: float) -> xr.DataTree:
        """nutpie's chains run on in the background while :func:`continue_until_met` judges
        them at growing checkpoints; stopped as soon as the targets are met. No draw is
        thrown away and no warm-up repeated, as replacing or adding chains in rounds does.
        All chains run at once (a thread each: a chain that waited for a core would hold no
        draws at the first checkpoint); at most ``settings.draws * 2 ** settings.top_up``
        draws per chain."""
        import nutpie

        cap = settings.draws * 2 ** settings.top_up
        done = [0] * settings.chains

        def on_progress(chains) -> None:  # nutpie's progress callback (draws incl. warm-up)
            done[:] = [c.finished_draws for c in chains]

        sampler = nutpie.sample(compiled, draws=cap, tune=settings.tune,
                                chains=settings.chains, seed=settings.seed,
                                cores=settings.chains, target_accept=target_accept,
                                progress_bar=self.progress, save_warmup=False,
                                adaptation=settings.adaptation, blocking=False,
                                progress_callback=on_progress, progress_rate=200)

        def finished() -> bool:  # nutpie 0.16 raises TimeoutError for "still running"
            try:
                return bool(sampler.is_finished)
            except TimeoutError:
                return False

        final: list[xr.DataTree] = []

        def draws_at(n: int) -> xr.DataTree:
            while not final and not finished():
                if min(done) >= settings.tune + n:
                    tree = sampler.inspect()
                    if "posterior" in tree.children and _least_draws(tree) >= n:
                        return tree
                time.sleep(0.2)
            if not final:  # finished (or failed: nutpie raises the chains' error here)
                final.append(sampler.wait())
            return final[0]

        try:
            return continue_until_met(draws_at, settings, cap)
        finally:
            if not finished():
                sampler.cancel()

    def _sample(self, model: pm.Model, compiled, settings: SamplerSettings,
                target_accept: float) -> xr.DataTree:
        """Posterior draws with nutpie (``compiled``) or, when it is ``None``, PyMC's NUTS
        or NumPyro's (``settings.sampler``)."""
        if compiled is not None:
            import nutpie

            return nutpie.sample(compiled, draws=settings.draws, tune=settings.tune,
                                 chains=settings.chains, seed=settings.seed, cores=self.cores,
                                 target_accept=target_accept, progress_bar=self.progress,
                                 save_warmup=False, adaptation=settings.adaptation)
        extra = {}
        if settings.sampler == "numpyro":
            use_jax_cache()
            import jax

            # a chain per XLA device (jax.pmap) where there are enough (inference.cache.
            # jax_host_devices), else all chains in one vectorised loop (jax.vmap)
            method = "parallel" if jax.local_device_count() >= settings.chains else \
                "vectorized"
            extra = {"nuts": {"chain_method": method}}
        with model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "PyTensor could not link to a BLAS")  # _compile
            return pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                             target_accept=target_accept, random_seed=settings.seed,
                             progressbar=False, nuts_sampler=settings.sampler,
                             compute_convergence_checks=False, **extra)

    @staticmethod
    def _add_predictive(tree: xr.DataTree, model: pm.Model, settings: SamplerSettings,
                        phases: dict[str, float]) -> xr.DataTree:
        """Log-likelihood, log-prior, posterior and prior predictive; seconds in ``phases``."""
        rng = np.random.default_rng([settings.seed, 7])
        seeds = rng.integers(2**31, size=2)
        with model:
            t = time.perf_counter()
            pm.compute_log_likelihood(tree, extend_inferencedata=True, progressbar=False)
            phases["log_likelihood_s"] = time.perf_counter() - t
            t = time.perf_counter()
            pm.stats.compute_log_prior(tree, extend_inferencedata=True, progressbar=False)
            phases["log_prior_s"] = time.perf_counter() - t
            t = time.perf_counter()
            ppc = pm.sample_posterior_predictive(
                tree, random_seed=int(seeds[0]), progressbar=False, var_names=["y"],
                freeze_vars=[v.name for v in model.free_RVs + model.deterministics])
            phases["posterior_predictive_s"] = time.perf_counter() - t
            t = time.perf_counter()
            prior = pm.sample_prior_predictive(settings.prior_draws, random_seed=int(seeds[1]))
            phases["prior_predictive_s"] = time.perf_counter() - t
        out = tree.copy()
        for group in ("posterior_predictive",):
            out[group] = ppc[group]
        for group in ("prior", "prior_predictive"):
            out[group] = prior[group]
        return out
