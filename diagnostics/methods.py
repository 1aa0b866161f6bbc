"""A methods section written from the run: what was fitted, how, checked by what, and which
estimand every headline number is, with software versions and citations.

Pure functions: :func:`model_facts` reads a spec and its prepared data, :func:`methods_text`
returns ``[(heading, paragraph), ...]`` plus the references; :func:`methods_markdown`
joins them for ``methods.md`` (the report renders the same paragraphs). The text is meant
to be pasted and edited: plain sentences, numbers from this run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata

import numpy as np

from diagnostics.equivalence import LEVEL, ROPE_SD, ROPE_WIDTHS, rope_width

__all__ = ["CITATIONS", "FAMILY_TEXT", "ROBUSTNESS_TEXT", "VERDICT_CALIBRATION", "causal_text",
           "conclusions_text", "methods_markdown", "methods_text", "model_facts", "plural",
           "software_versions"]

FAMILY_TEXT = {
    "bernoulli": "Bernoulli, logit link",
    "binomial": "binomial, logit link",
    "cumulative": "cumulative logit (proportional odds), thresholds as a first cut plus "
                  "positive gaps",
    "cumulative_probit": "cumulative probit (proportional odds on a normal latent scale), "
                         "thresholds as a first cut plus positive gaps",
    "gaussian": "Gaussian, identity link, priors scaled by the response's sd",
    "graded": "graded response: a latent trait per respondent measured by several items, "
              "each with its own cumulative-logit thresholds and a positive loading (zero-sum "
              "log-loadings), the latent integrated out by Gauss-Hermite quadrature",
    "graded_equal": "graded response: a latent trait per respondent measured by several "
                    "items with equal loadings, each with its own cumulative-logit "
                    "thresholds, the latent integrated out by Gauss-Hermite quadrature",
    "graded_latent": "graded response: a latent trait per respondent (sampled) measured by "
                     "several items with equal loadings, each with its own cumulative-logit "
                     "thresholds",
}
PACKAGES = ("pymc", "pytensor", "nutpie", "arviz-base", "arviz-stats", "arviz-plots", "bambi",
            "numpy", "pandas", "xarray", "statsmodels", "scikit-learn", "dask")
CITATIONS = {
    "evalue": "VanderWeele, T. J., & Ding, P. (2017). Sensitivity analysis in observational "
              "research: introducing the E-value. Annals of Internal Medicine 167(4):268-274.",
    "confsel": "VanderWeele, T. J. (2019). Principles of confounder selection. European "
               "Journal of Epidemiology 34:211-219.",
    "pymc": "Abril-Pla, O., Andreani, V., Carroll, C., et al. (2023). PyMC: a modern, and "
            "comprehensive probabilistic programming framework in Python. PeerJ Computer "
            "Science 9:e1516.",
    "nutpie": "Seyboldt, A., et al. nutpie: a fast NUTS implementation for PyMC and Stan "
              "models (software). https://github.com/pymc-devs/nutpie",
    "arviz": "Kumar, R., Carroll, C., Hartikainen, A., & Martin, O. A. (2019). ArviZ a "
             "unified library for exploratory analysis of Bayesian models in Python. Journal "
             "of Open Source Software 4(33), 1143.",
    "bambi": "Capretto, T., Piho, C., Kumar, R., Westfall, J., Yarkoni, T., & Martin, O. A. "
             "(2022). Bambi: A simple interface for fitting Bayesian linear models in Python. "
             "Journal of Statistical Software 103(15), 1-29.",
    "rhat": "Vehtari, A., Gelman, A., Simpson, D., Carpenter, B., & Burkner, P.-C. (2021). "
            "Rank-normalization, folding, and localization: an improved R-hat for assessing "
            "convergence of MCMC. Bayesian Analysis 16(2), 667-718.",
    "loo": "Vehtari, A., Gelman, A., & Gabry, J. (2017). Practical Bayesian model evaluation "
           "using leave-one-out cross-validation and WAIC. Statistics and Computing 27, "
           "1413-1432.",
    "logo": "Merkle, E. C., Furr, D., & Rabe-Hesketh, S. (2019). Bayesian comparison of "
            "latent variable models: conditional versus marginal likelihoods. Psychometrika "
            "84, 802-829.",
    "psense": "Kallioinen, N., Paananen, T., Burkner, P.-C., & Vehtari, A. (2024). Detecting "
              "and diagnosing prior and likelihood sensitivity with power-scaling. Statistics "
              "and Computing 34, 57.",
    "mice": "van Buuren, S., & Groothuis-Oudshoorn, K. (2011). mice: Multivariate imputation "
            "by chained equations in R. Journal of Statistical Software 45(3), 1-67.",
    "rope": "Kruschke, J. K. (2018). Rejecting or accepting parameter values in Bayesian "
            "estimation. Advances in Methods and Practices in Psychological Science 1(2), "
            "270-280.",
}


def software_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages the run used (absent ones left out)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def model_facts(spec, data, *, target_accept: float) -> dict:
    """What the methods text needs of one fitted model (its spec and prepared data)."""
    return {
        "name": spec.name, "outcome": spec.outcome, "family": spec.family,
        "subset": spec.subset, "n": int(data.n), "terms": [t.name for t in spec.terms],
        "levels": list(spec.levels), "focal": spec.focal, "variant": spec.variant,
        "reference": spec.reference, "adjustment": spec.adjustment,
        "parametrisation": [(lv, how) for lv, how, _ in data.parametrisation],
        "priors": dict(spec.prior), "target_accept": float(target_accept),
    }


def plural(word: str) -> str:
    """English plural of a level's name (``complex`` -> ``complexes``)."""
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _list(items: Sequence[str]) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def methods_text(*, models: Sequence[Mapping], settings: Mapping, thresholds: Mapping,
                 n_rows: int, units: str, groups: Mapping[str, int],
                 level_names: Mapping[str, str], source: str, estimand: str,
                 joint: Sequence[str] = (), population: str | None = None,
                 imputations: int | None = None, versions: Mapping[str, str] | None = None,
                 findings: bool = False, causal=None,
                 robustness: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
    """``([(heading, paragraph), ...], references)`` describing this run.

    ``models``: :func:`model_facts` of every single model; ``settings``: the sampler
    settings as a dict; ``groups``: number of groups per grouping column; ``estimand``:
    the headline estimand in words; ``joint``: names of joint two-part models;
    ``findings``: whether the study's published conclusions were checked
    (:func:`conclusions_text`); ``causal``: the study's
    :class:`models.causal.CausalGraph` (:func:`causal_text`); ``robustness``: whether the
    E-values of the headline contrasts were computed.
    """
    versions = versions if versions is not None else software_versions()
    name = lambda lv: level_names.get(lv, lv)  # noqa: E731
    nest = " within ".join(f"{groups[lv]:,} {plural(name(lv))}" for lv in
                           (models[0]["levels"] if models else []) if lv in groups)
    paras = []
    paras.append(("Data", f"{source.split(':')[0]}: {n_rows:,} {units}"
                  f"{' in ' + nest if nest else ''}."
                  + (f" Missing covariates were multiply imputed by chained equations "
                     f"(predictive mean matching, m = {imputations}); every model was fitted "
                     f"on each completed data set and the draws pooled [mice]."
                     if imputations else " Rows with a missing model variable are left out "
                     "model by model (missing.csv lists any).")))
    by_family: dict[str, list[str]] = {}
    for m in models:
        label = m["name"] + (f" (among {m['subset']})" if m["subset"] else "")
        by_family.setdefault(m["family"], []).append(label)
    fam = "; ".join(f"{FAMILY_TEXT.get(f, f)} for {_list(outs)}" for f, outs in
                    by_family.items())
    m0 = models[0] if models else {}
    focal = m0.get("focal")
    terms = sorted({t for m in models for t in m["terms"]})
    text = (f"One Bayesian multilevel model per outcome ({len(models)} models): {fam}. "
            f"Each has random intercepts for "
            f"{_list([plural(name(lv)) for lv in m0.get('levels', []) if lv != focal])}")
    if focal:
        variant = m0.get("variant")
        text += (f", and {name(focal)} effects "
                 + ("partially pooled (zero-sum, hierarchical)" if variant == "hierarchical"
                    else "as fixed contrasts" if variant == "fixed" else "left out")
                 + f", contrasted with {m0.get('reference')}")
    text += (f". The models are adjusted for {len(terms)} terms in all (each model its own "
             f"set of them): {', '.join(terms)}." if terms else ".")
    if joint:
        text += (f" Two-part outcomes also have a joint model ({_list(joint)}) whose parts' "
                 "group effects are correlated (LKJ prior); it gives their unconditional "
                 "effect (gate and part together).")
    spelled = {"noncentered": "non-centred", "centered": "centred"}
    how = sorted({f"{name(lv)} {spelled.get(p, p)}" for m in models
                  for lv, p in m["parametrisation"]})
    if how:
        text += (" Random levels are centred or non-centred by how informative their groups "
                 f"are (reliability of the group means): {'; '.join(how)}.")
    paras.append(("Models", text))
    pri = m0.get("priors", {})
    if pri:
        paras.append(("Priors", "Weakly informative on the latent (logit) scale, every "
                      f"location 0: coefficients Normal(0, {pri.get('beta_sd')}); intercepts "
                      f"Normal(0, {pri.get('intercept_sd')}); first threshold "
                      f"Normal(0, {pri.get('threshold_sd')}) with HalfNormal("
                      f"{pri.get('threshold_sd')}) gaps; SD of the {name(focal or '')} "
                      f"effects HalfNormal({pri.get('focal_sd_scale')}); SD of each random "
                      f"intercept HalfNormal({pri.get('group_sd_scale')}). "
                      + ("Models whose priors differ from these: " + "; ".join(
                          f"{m['name']}: " + ", ".join(f"{k} = {v}" for k, v in m["priors"]
                                                       .items() if pri.get(k) != v)
                          for m in models if m["priors"] != pri) + "."
                          if any(m["priors"] != pri for m in models) else
                          "Every model uses these priors.")))
    acc = sorted({m["target_accept"] for m in models})
    paras.append(("Sampling", f"NUTS with {settings.get('sampler')} "
                  f"({settings.get('adaptation')} mass-matrix adaptation): "
                  f"{settings.get('chains')} chains of {settings.get('tune'):,} warm-up and "
                  f"{settings.get('draws'):,} retained draws, target acceptance "
                  f"{' / '.join(f'{a:g}' for a in acc)}, seed {settings.get('seed')}."))
    paras.append(("Diagnostics", f"Convergence was judged per parameter by rank-normalised "
                  f"split R-hat (ok \u2264 {thresholds['rhat_warn']}, fail > "
                  f"{thresholds['rhat_fail']}) and bulk and tail effective sample size (at "
                  f"least {thresholds['ess_per_chain']:.0f} per chain) [rhat], and per model "
                  f"by divergent transitions (any is a fail) and E-BFMI (\u2265 "
                  f"{thresholds['ebfmi']}). Posterior predictive checks compared observed and "
                  "replicated category shares per group, the spread of group means with new "
                  "group effects, proportional odds per level and calibration by covariate "
                  "(two-sided mid-p values). Predictive accuracy: PSIS-LOO per row [loo] and "
                  "leave-one-group-out with each group's effect integrated by Gauss-Hermite "
                  "quadrature [logo]; prior sensitivity by power-scaling [psense]."))
    paras.append(("Estimands", f"Headline effects: {estimand}. Each is an average "
                  "counterfactual contrast (g-computation per posterior draw): every analysed "
                  f"row placed in each {name(focal or 'level')} in turn; intervals are "
                  "central 90% posterior intervals, P(>0) the posterior probability of a "
                  "positive contrast."
                  + (f" They are also standardised to the population in {population} by "
                     "multilevel regression and post-stratification (every population cell "
                     "predicted at its own values, cells without respondents included, and "
                     "weighted by its count; a subset model's cells by their gate share) "
                     "and, for a register, by response-propensity weights refitted on "
                     "bootstrap resamples; a delta adjustment gives the departure from "
                     "missing at random at which each conclusion would flip (tipping point)."
                     if population else "")))
    if causal is not None and causal.nodes:
        paras.append(("Causal roles", causal_text(
            causal, sorted({m["adjustment"] for m in models if m.get("adjustment")}))))
    if robustness:
        paras.append(("Unmeasured confounding", ROBUSTNESS_TEXT))
    if findings:
        paras.append(("Conclusions", conclusions_text()))
    software = ", ".join(f"{k} {v}" for k, v in versions.items())
    paras.append(("Software", f"Python; {software}. Models are written in PyMC [pymc] and "
                  "sampled with nutpie [nutpie]; diagnostics and LOO with ArviZ "
                  "(arviz-stats, arviz-plots) [arviz]. Each model can also be built from a "
                  "Bambi formula [bambi], which the benchmark fits as the plain-Bambi "
                  "baseline."))
    used = {"pymc", "nutpie", "arviz", "bambi", "rhat", "loo", "logo", "psense"} | \
        ({"confsel"} if causal is not None and causal.nodes else set()) | \
        ({"evalue"} if robustness else set()) | \
        ({"mice"} if imputations else set()) | ({"rope"} if findings else set())
    refs = [f"[{k}] {CITATIONS[k]}" for k in CITATIONS if k in used]
    return paras, refs


ROBUSTNESS_TEXT = (
    "How strong an unmeasured confounder would have to be to overturn each headline contrast "
    "is given by E-values [evalue] on the contrast's risk ratio (a mean difference in outcome "
    "SDs d as exp(0.91 d)): the risk ratio such a confounder would need with both the focal "
    "level and the outcome to move the 90% interval to no effect, to explain the point "
    "estimate away or to halve it. Each is benchmarked against the measured covariates: "
    "every covariate's prevalence ratio between the two levels and its fitted coefficient "
    "(as a risk ratio at the contrast's base rate) give the bias it could cause were it "
    "unmeasured, and k says how many times as strong (both log risk ratios times k) as the "
    "most dangerous of them a confounder would have to be. The E-value bounds the bias of "
    "any confounder with those associations; it needs no model of the confounder and no "
    "refit.")


def causal_text(graph, adjustments: Sequence[str]) -> str:
    """The causal roles behind the adjustment sets, and what an effect may be called."""
    from models.causal import SET_ROLES

    by_role: dict[str, list[str]] = {}
    for node in graph.nodes:
        by_role.setdefault(node.role, []).append(node.name)
    words = {"confounder": "confounders (fixed before the exposure)",
             "two_sided": "two-sided (possibly a confounder, possibly changed by the "
                          "exposure)",
             "mediator": "possible mediators", "form_feature": "features of the exposure "
                                                               "itself",
             "gate": "gate terms of conditional models"}
    roles = "; ".join(f"{words.get(r, r)}: {', '.join(names)}" for r, names in by_role.items())
    sets = "; ".join(f"{a} = {' + '.join(SET_ROLES[a])}" for a in adjustments
                     if a in SET_ROLES)
    return (f"Every covariate has a causal role relative to the {graph.exposure} [confsel]: "
            f"{roles}. Adjustment sets are unions of roles" + (f" ({sets})" if sets else "")
            + ". An effect is called total only when it is unconditional and its model holds "
            "no possible mediator, feature of the exposure or gate term fixed; with one held "
            "fixed it is a controlled effect, and the tables name what it holds fixed and "
            "what each reading assumes. The two-sided covariates are read both ways "
            "(--adjustment bounds fits the sets with and without them).")


# the verdict rule's measured error rates (bench/bench_verdicts.py, docs/validation.md
# "Calibration of the verdicts"; update both when the rule or the models change)
VERDICT_CALIBRATION = (
    "Measured in simulated data (bench/bench_verdicts.py: the default models of three "
    "outcomes, 2 chains × (300 + 300)): in a world where no living form "
    "changes any outcome, 0 of 126 false form-difference claims of the report (6 data sets "
    "× 21 pairs and sentences) were judged supported (Clopper-Pearson 95% upper bound 2.9%; "
    "the target is at most 5%), and 0 of 756 false 'A above B' claims over every ordered "
    "pair of forms (upper bound 0.5%); in the simulator's default world (2 data sets) 0 of "
    "148 false pair claims were supported and none of the 49 supported pair verdicts was "
    "false (upper bound 7.3%). The equivalence rule said 'equivalent' in none of 18 "
    "outcome-data sets where the forms were truly equal (the posterior of the largest "
    "difference between 7 forms does not fit inside the ROPE at this sample size), so an "
    "'uncertain' equivalence verdict here is no evidence of a difference.")


def conclusions_text(*, level: float = LEVEL, rope_sd: float = ROPE_SD,
                     widths: Sequence[float] = ROPE_WIDTHS) -> str:
    """How the published conclusions are judged: the verdict rules of each kind of claim and
    the region of practical equivalence with the argument for its width
    (:mod:`diagnostics.findings`, :mod:`diagnostics.equivalence`)."""
    def pp(p: float) -> str:  # the ROPE in percentage points at base rate p
        width = rope_width(np.array([p]), on_probability_scale=True, response_sd=1.0,
                           rope_sd=rope_sd)
        return f"{width:.1f}"

    return (
        "Each published conclusion is restated as a claim about the fitted model and judged "
        "by posterior probabilities, in words that belong to its kind of claim. A directional "
        f"claim (a contrast or coefficient has the claimed sign) is supported when P(claimed "
        f"sign) ≥ {level}, contradicted when P(opposite sign) ≥ {level}, else "
        "uncertain. A sentence with several pairs ('one level the most of all') is also "
        f"judged jointly: it holds when all of its pairs hold in the same draw with "
        f"probability ≥ {level}, fails when some pair fails with probability ≥ "
        f"{level}, else uncertain. A claim of little difference between the k forms is "
        "judged on the outcome scale (a new complex) against a region of practical "
        "equivalence (ROPE) [rope]: per draw the k(k − 1)/2 pairwise differences and "
        f"the largest of their absolute values. It is equivalent when P(largest < ROPE) "
        f"≥ {level}; different when a pair lies beyond the ROPE on one side inside a "
        f"simultaneous {level:.0%} credible band over all pairs (each pair's mean ± c "
        f"sd, c the {level:.0%} quantile over the draws of the largest standardised "
        "deviation); else uncertain. 'Different' is not judged by P(largest > ROPE): the "
        "largest of many noisy differences exceeds a small ROPE whenever the posteriors are "
        "wide, so imprecision would read as a difference, while the simultaneous band keeps "
        f"false 'different' verdicts near {1 - level:.0%} when the forms are equal. The ROPE "
        f"is ±{rope_sd:g} standard deviation of the outcome, Kruschke's default of half "
        "a small standardised effect (d = 0.2) [rope]: for a share, a shift of "
        f"{rope_sd:g} on its standard-normal latent scale at its base rate p, ±100 "
        f"× {rope_sd:g} × φ(Φ⁻¹(p)) percentage points "
        f"(±{pp(0.15)} pp at a 15% base rate, ±{pp(0.5)} pp at 50%); for a "
        f"continuous outcome {rope_sd:g} of its sd. A fixed width in percentage points "
        "would be a different effect at every base rate (2 pp is 13% of a 15% share but 4% "
        "of a 50% one); a width in latent sd is the same standardised effect for every "
        "outcome, narrower in percentage points for a rarer share. findings_rope.csv gives "
        f"the equivalence verdicts at {', '.join(f'{w:g}' for w in widths)} sd, with every "
        "pair's posterior probability inside the ROPE. " + VERDICT_CALIBRATION + " "
        + STRUCTURES_TEXT)


# how the focal effects' structure is checked (diagnostics.structures)
STRUCTURES_TEXT = (
    "The pooled structure of the focal effects is checked, not assumed: two other "
    "structures -- fixed contrasts (each with its own normal prior, nothing pooled) and the "
    "levels' describing columns as coefficients plus pooled residual effects (two groups of "
    "levels rather than exchangeable ones) -- differ from it only in the prior of the level "
    "means, so each is the fitted posterior reweighted by the ratio of the priors (the pooled "
    "SDs integrated out by quadrature; Pareto-smoothed importance sampling, trusted where "
    "k ≤ min(1 − 1/log10 S, 0.7) for S draws, as in PSIS-LOO [loo]). Every conclusion is "
    "judged again under each structure and the first screen names any whose verdict "
    "changes with its posterior probability moved by more than twice its Monte Carlo SE "
    "(the weights' effective draws; smaller changes are counted as borderline); "
    "leave-one-group-out elpd compares the structures, and another is preferred only "
    "beyond twice the paired SE with every group's leave-out ratios reliable "
    "(structures.csv, findings_structures.csv). Where k is too high the structure is "
    "fitted instead (run_models.py compare).")


def methods_markdown(paragraphs: Sequence[tuple[str, str]], references: Sequence[str], *,
                     title: str) -> str:
    """``methods.md``: the paragraphs under headings, then the references."""
    body = "\n\n".join(f"**{h}.** {p}" for h, p in paragraphs)
    refs = "\n".join(f"- {r}" for r in references)
    return f"# Methods: {title}\n\n{body}\n\n## References\n\n{refs}\n"
