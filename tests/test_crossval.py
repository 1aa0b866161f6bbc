"""Leave-one-complex-out: numpy log densities, the integrated group likelihood, folds, refits
on the compiled model, and the relaxed variants that compare scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

from data.suite import default_specs
from diagnostics.crossval import (
    compare_pointwise,
    group_log_density,
    latent_integrated_tree,
    psis_logo,
    thinned_draws,
    unsupported_reason,
)
from inference.crossval import group_folds, heldout_task, pointwise_from_results
from inference.engine import Engine, SamplerSettings
from models.design import prepare
from models.families import FAMILIES
from models.spec import comparison_variants

SETTINGS = SamplerSettings(draws=150, tune=200, chains=2, seed=4, predictive=False)


def _draws(**arrays):
    return lambda name: arrays[name]


@pytest.mark.parametrize("lin", [0.3, -8.0, 12.0])
def test_numpy_log_densities_equal_scipy(lin):
    """Every family's numpy log density against scipy's, in the tails too (no -inf)."""
    rng = np.random.default_rng(0)
    n, S = 40, 3
    eta = lin + rng.normal(size=(n, S))
    icpt = np.array([0.2, -0.1, 0.4])
    y01 = rng.integers(0, 2, n)
    got = FAMILIES["bernoulli"].log_density(eta, _draws(intercept=icpt), y01)
    want = stats.bernoulli.logpmf(y01[:, None], expit(eta + icpt))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 if abs(lin) < 5 else 1e-3)
    trials = rng.integers(1, 9, n)
    yb = rng.binomial(trials, 0.4)
    got = FAMILIES["binomial"].log_density(eta, _draws(intercept=icpt), yb, trials)
    want = stats.binom.logpmf(yb[:, None], trials[:, None], expit(eta + icpt))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-6)
    sigma = np.array([0.7, 1.1, 0.9])
    yg = rng.normal(size=n)
    got = FAMILIES["gaussian"].log_density(eta, _draws(intercept=icpt, sigma=sigma), yg)
    np.testing.assert_allclose(got, stats.norm.logpdf(yg[:, None], eta + icpt, sigma))
    tau = np.sort(rng.normal(scale=2, size=(S, 3)), axis=1)
    yc = rng.integers(0, 4, n)
    got = FAMILIES["cumulative"].log_density(eta, _draws(thresholds=tau), yc)
    cum = np.concatenate([np.zeros((n, S, 1)), expit(tau[None] - eta[:, :, None]),
                          np.ones((n, S, 1))], axis=2)
    p = np.take_along_axis(np.diff(cum, axis=2), yc[:, None, None].repeat(S, 1), 2)[..., 0]
    assert np.isfinite(got).all()
    ok = p > 1e-300
    np.testing.assert_allclose(got[ok], np.log(p[ok]), rtol=1e-6)
    # thresholds per row (category-specific effects) give the same as the shared ones
    per_row = FAMILIES["cumulative"].log_density(
        eta, _draws(thresholds=np.broadcast_to(tau[:, None, :], (S, n, 3))), yc)
    np.testing.assert_allclose(per_row, got)
    assert FAMILIES["graded"].log_density(eta, _draws(), yc) is None
    # the probit link: the same categories from a normal cdf, in both tails
    got = FAMILIES["cumulative_probit"].log_density(eta, _draws(thresholds=tau), yc)
    # reference: each category's bounds on the latent scale, the probability between them
    # from the lower tail (cdf) or the upper one (sf), whichever does not cancel
    cuts = np.concatenate([np.full((n, S, 1), -np.inf), tau[None] - eta[:, :, None],
                           np.full((n, S, 1), np.inf)], axis=2)
    k = yc[:, None, None].repeat(S, 1)
    a = np.take_along_axis(cuts, k + 1, 2)[..., 0]
    b = np.take_along_axis(cuts, k, 2)[..., 0]
    p = np.where(b > 0, stats.norm.sf(b) - stats.norm.sf(a),
                 stats.norm.cdf(a) - stats.norm.cdf(b))
    assert np.isfinite(got).all()
    ok = p > 1e-300
    # where p is within 1e-15 of 1 the reference's difference of cdfs rounds; ours does not
    np.testing.assert_allclose(got[ok], np.log(p[ok]), rtol=1e-6, atol=1e-12)


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.fixture(scope="module")
def contact_fit(engine, small_frame):
    spec = default_specs()["contact"]
    data = prepare(small_frame, spec)
    return spec, data, engine.fit(spec, data, SETTINGS)


def test_group_likelihood_integrates_the_complex_effect(contact_fit):
    """The Gauss-Hermite marginal of the largest complex equals a Monte Carlo over 200,000
    complex effects per draw (atol 0.01 on a log-likelihood of about -25)."""
    spec, data, tree = contact_fit
    draws, _ = thinned_draws(tree, max_draws=50)
    groups, ll = group_log_density(tree, spec, data, draws)
    idx = data.level_idx["complex_id"]
    big = np.bincount(idx).argmax()
    rows = np.flatnonzero(idx == big)
    assert len(rows) >= 10
    beta, tau = draws("beta"), draws("thresholds")
    eff = draws("living_form_effect")[:, data.level_idx["living_form"][rows]]
    sd = draws("sd_complex_id")
    u = np.random.default_rng(1).standard_normal(200_000)
    for s in range(3):
        eta = data.X[rows] @ beta[s] + eff[s]  # (n,)
        lin = eta[:, None, None] + sd[s] * u[None, None, :]
        ld = FAMILIES["cumulative"].log_density(lin, _draws(thresholds=tau[[s]]),
                                                data.y[rows]).sum(axis=0)[0]
        mc = logsumexp(ld) - np.log(len(u))
        assert ll[s, list(groups).index(big)] == pytest.approx(mc, abs=0.01)
    assert ll.shape == (len(draws("beta")), len(np.unique(idx)))


def test_item_level_likelihood_integrates_the_tenant_latent(small_frame):
    """Each tenant's five answers jointly, their latent integrated out (the item-level
    model's LOO per tenant): Gauss-Hermite equals adaptive quadrature per draw, every
    fitted complex and form effect included (prior draws stand in for a posterior: the
    identity holds at any parameter values)."""
    import pymc as pm
    import xarray as xr

    from models.build import build_model

    # the sampled-latent variant (equal loadings); the integrated one: test_item_response.py
    spec = default_specs()["cohesion_items"].with_(family="graded_latent")
    data = prepare(small_frame, spec)
    with build_model(spec, data):
        prior = pm.sample_prior_predictive(20, random_seed=3)
    tree = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    lt = latent_integrated_tree(tree, spec, data)
    ll = lt["log_likelihood"]["y"].stack(sample=("chain", "draw")).transpose("sample", "obs")
    assert ll.shape == (20, data.n) and np.isfinite(ll.values).all()
    draws, _ = thinned_draws(tree)
    beta, tau, sd_t = draws("beta"), draws("thresholds"), draws("sd_tenant")
    form = draws("living_form_effect")[:, data.level_idx["living_form"]]
    cx = draws("sd_complex_id")[:, None] * draws("z_complex_id")
    cx = cx[:, data.level_idx["complex_id"]]
    from scipy import integrate
    from scipy.stats import norm

    for s, i in ((0, 0), (5, 17), (11, data.n - 1)):
        eta = data.X[i] @ beta[s] + form[s, i] + cx[s, i]

        def integrand(u, s=s, i=i, eta=eta):
            lin = np.array([[[eta + sd_t[s] * u]]])  # (1 row, 1 draw, 1 node)
            ld = sum(FAMILIES["cumulative"].log_density(
                lin, _draws(thresholds=tau[[s], j, :]), data.y[[i], j]) for j in range(5))
            return np.exp(ld[0, 0, 0]) * norm.pdf(u)
        # adaptive quadrature (a Monte Carlo of 200,000 latents erred by 0.02 at a prior
        # draw with SD 1.1: its relative SE there was 6%)
        ref = np.log(integrate.quad(integrand, -12, 12, epsabs=0, epsrel=1e-11, limit=400)[0])
        assert float(ll.values[s, i]) == pytest.approx(ref, abs=1e-4)


def test_psis_logo_and_a_refit_without_complexes(engine, contact_fit):
    """PSIS-LOGO gives one elpd and Pareto k per complex; a refit without a fold's
    complexes reuses the compiled model and scores exactly those complexes."""
    spec, data, tree = contact_fit
    logo = psis_logo(tree, spec, data)
    assert len(logo) == len(np.unique(data.level_idx["complex_id"]))
    assert np.isfinite(logo["elpd"]).all() and (logo["elpd"] < 0).all()
    folds = group_folds(spec, data, 4, seed=1)
    held = np.flatnonzero(folds == 0).tolist()
    import inference.parallel as parallel

    parallel._ENGINE = engine  # the module's compiled contact model
    n_compiled = len(engine._cache)
    result = heldout_task(spec=spec, model="contact", label="fold-0", groups=held,
                          datas={"contact": data}, settings=SETTINGS)
    assert len(engine._cache) == n_compiled  # no recompiling: with_data on fewer rows
    labels = np.asarray(data.level_labels["complex_id"])
    scored = {labels[g] for g in held if (data.level_idx["complex_id"] == g).any()}
    assert set(result["groups"]) == scored
    assert result["n_train"] == int((~np.isin(data.level_idx["complex_id"], held)).sum())
    point = pointwise_from_results({"a": result})["contact"]
    # a new complex is predicted no better than with its own data in the fit, on average
    assert point.sum() <= logo.set_index("group")["elpd"].loc[point.index].sum() + 5


def test_folds_are_stratified_and_cover_every_complex(small_frame):
    spec = default_specs()["gossip"]
    data = prepare(small_frame, spec)
    folds = group_folds(spec, data, 5, seed=3)
    present = np.unique(data.level_idx["complex_id"])
    assert (folds[present] >= 0).all() and set(folds[present]) == set(range(5))
    sizes = np.bincount(folds[present])
    assert sizes.max() - sizes.min() <= 1
    rows_form = pd.Series(data.level_idx["living_form"]).groupby(
        data.level_idx["complex_id"]).first()
    for _, grp in rows_form.groupby(rows_form):  # each form dealt round the folds
        counts = np.bincount(folds[grp.index], minlength=5)
        assert counts.max() - counts.min() <= 1
    with pytest.raises(ValueError, match="K >= 2"):
        group_folds(spec, data, 1)


def test_compare_pointwise_pairs_groups():
    a = pd.Series([-1.0, -2.0, -3.0, -1.5], index=list("abcd"))
    b = a - np.array([0.5, 0.4, 0.6, 0.5])  # worse in every group, consistently
    t = compare_pointwise({"A": a, "B": b}, criterion="x").set_index("model")
    assert t.loc["A", "rank"] == 0 and t.loc["B", "elpd_diff"] == pytest.approx(2.0)
    assert t.loc["B", "dse"] == pytest.approx(np.sqrt(4 * np.var([0.5, 0.4, 0.6, 0.5],
                                                                 ddof=1)))
    assert "favour A" in t.loc["B", "meaning"]
    with pytest.raises(ValueError, match="same groups"):
        compare_pointwise({"A": a, "B": b.iloc[:3]}, criterion="x")


def test_relaxed_variants_are_offered_and_checked():
    specs = default_specs()
    names = list(comparison_variants(specs["contact"]))
    assert "contact[complex_id SD by living_form]" in names
    assert "contact[living_form by category]" in names
    assert "gossip[living_form by category]" not in list(comparison_variants(specs["gossip"]))
    # the link relaxed: same model, normal latent errors (the probit world's variant)
    probit = comparison_variants(specs["contact"])["contact[probit link]"]
    assert probit.family == "cumulative_probit" and probit.terms == specs["contact"].terms
    assert probit.structure_key != specs["contact"].structure_key
    assert "gossip[probit link]" not in comparison_variants(specs["gossip"])
    assert probit.with_(focal_by_category=True).focal_by_category  # both relaxations at once
    grouped = comparison_variants(specs["gossip"], focal_predictors=("clustered",),
                                  columns={"clustered"})
    spec = grouped["gossip[clustered + residual living_form]"]
    assert spec.terms[-1].name == "clustered" and spec.variant == "hierarchical"
    assert "gossip[clustered + residual living_form]" not in comparison_variants(
        specs["gossip"], focal_predictors=("clustered",), columns={"female"})
    with pytest.raises(ValueError, match="focal_by_category needs the cumulative"):
        specs["gossip"].with_(focal_by_category=True)
    # the flags change the compiled graph and the saved fit's hash, and only when set
    base = specs["contact"]
    assert "sd_by_focal" not in base.to_json()
    assert base.with_(sd_by_focal=True).structure_key != base.structure_key
    assert unsupported_reason(specs["cohesion_items"]) is not None
    assert unsupported_reason(base.with_(levels=("living_form",))) is not None


def test_relaxed_variant_graphs(small_frame):
    """Without sampling: category-specific form effects sum to zero over the forms at every
    threshold (each form keeps an overall effect), and complex SDs by form index the
    complexes' own forms."""
    import pymc as pm

    from models.build import build_model

    base = default_specs()["contact"]
    spec = base.with_(focal_by_category=True)
    data = prepare(small_frame, spec)
    model = build_model(spec, data)
    effect = pm.draw(model["living_form_effect"], draws=20, random_seed=1)  # (20, F, K-1)
    assert effect.shape[1:] == (7, len(data.categories) - 1)
    np.testing.assert_allclose(effect.sum(axis=1), 0.0, atol=1e-9)
    assert np.abs(effect).sum(axis=2).min() > 0  # per form: thresholds not forced to cancel
    spec = base.with_(sd_by_focal=True)
    model = build_model(spec, prepare(small_frame, spec))
    assert model.named_vars_to_dims["sd_complex_id"] == ("living_form",)
    focal_of = model["focal_of_complex_id"].get_value()
    np.testing.assert_array_equal(focal_of, data.parent_idx["complex_id"])


@pytest.mark.slow
def test_relaxed_variants_fit_and_give_probability_effects(engine, small_frame):
    """Both relaxed variants sample, give one SD per form or one effect per threshold, and
    their new-complex probability effects and group likelihoods are finite."""
    from diagnostics.effects import probability_effects

    base = default_specs()["contact"]
    for spec, var, dims in ((base.with_(sd_by_focal=True), "sd_complex_id", ("living_form",)),
                            (base.with_(focal_by_category=True), "living_form_effect",
                             ("living_form", "threshold"))):
        data = prepare(small_frame, spec)
        tree = engine.fit(spec, data, SETTINGS)
        assert tree["posterior"][var].dims[2:] == dims
        if spec.focal_by_category:  # zero-sum over the forms at every threshold
            total = tree["posterior"]["living_form_effect"].sum("living_form")
            assert float(abs(total).max()) < 1e-8
        eff = probability_effects(tree, spec, data, max_draws=100)
        assert np.isfinite(eff["mean"]).all() and len(eff) > 7
        draws, _ = thinned_draws(tree, max_draws=50)
        _, ll = group_log_density(tree, spec, data, draws)
        assert np.isfinite(ll).all()


def test_compare_pools_the_link_question_over_cumulative_outcomes():
    """``compare`` adds one table over all cumulative outcomes: logit vs probit link, the
    leave-one-complex-out elpd summed per complex; other variants and a lone outcome do
    not enter it."""
    from workflows.variants import pooled_link_table

    rng = np.random.default_rng(2)

    def points(outcome, label, elpd, groups):
        return pd.DataFrame({"group": groups, "elpd": elpd, "pareto_k": 0.1,
                             "model": f"{outcome}[{label}]", "refitted": False,
                             "outcome": outcome})

    g1, g2 = [f"c{i}" for i in range(40)], [f"c{i}" for i in range(10, 40)]
    e1, e2 = rng.normal(-5, 1, 40), rng.normal(-3, 1, 30)
    tables = [points("contact", "hierarchical", e1, g1),
              points("contact", "probit link", e1 + 0.2, g1),
              points("contact", "fixed", e1 - 1, g1),
              points("help_given", "hierarchical", e2, g2),
              points("help_given", "probit link", e2 + 0.1, g2)]
    table = pooled_link_table(tables)
    assert table["outcome"].unique().tolist() == ["pooled: contact, help_given"]
    assert table["model"].tolist() == ["probit link", "logit link (hierarchical)"]
    assert table["n_groups"].unique().tolist() == [40]
    assert table["elpd_diff"].iloc[1] == pytest.approx(0.2 * 40 + 0.1 * 30)
    assert table["criterion"].iloc[0] == "PSIS-LOGO pooled over 2 cumulative outcomes"
    assert pooled_link_table(tables[:3]) is None
