"""Workflows that fit variants of the suite: LOO comparison, who benefits, new concepts."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from diagnostics.convergence import model_verdict
from inference.files import write_csv
from inference.suite import fit_suite
from workflows import console
from workflows.setup import WorkflowError, setup

__all__ = ["benefit_command", "compare_command", "concepts_command"]


def _verdict(result) -> str:
    return model_verdict(result.tree, model=result.spec.name)["verdict"].iloc[0]


def benefit_command(args: argparse.Namespace) -> int:
    """Who benefits: clustered x openness/vulnerability interactions, probability scale."""
    from diagnostics.benefit import benefit_table

    run = setup(args, suite="benefit")
    out = args.out or Path("results") / "benefit"
    out.mkdir(parents=True, exist_ok=True)
    results = fit_suite(run.specs, run.frame, settings=run.settings, fits_dir=out / "fits",
                        progress=console.progress)
    table = pd.concat([benefit_table(r.tree, r.spec, r.data).assign(verdict=_verdict(r))
                       for r in results], ignore_index=True)
    write_csv(table, out / "benefit.csv")
    console.print_benefit(table, out)
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Compare each outcome's variants (hierarchical, fixed, none, relaxed ...) by PSIS-LOO
    (a new tenant in a known complex) and, for the living-form question, by leave-one-
    complex-out: PSIS-LOGO with exact refits where its Pareto k is too high, and grouped
    K-fold by complex with ``--kfold K``. Refits run over Dask (``--scheduler``). The
    item-level model is compared by PSIS-LOO of a tenant's answers with their latent
    integrated out; leave-one-complex-out would need the tenants' latents integrated
    inside each complex's, which is not built (it says so and goes on). Its equal and free
    item loadings are compared by that LOO as well (``loadings.csv``)."""
    from diagnostics.compare import compare_table, loo_table
    from diagnostics.crossval import latent_integrated_tree
    from inference.engine import Engine
    from models.spec import comparison_variants

    run = setup(args)
    out = args.out or Path("results") / "compare"
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    tables, loos, logos, loadings = [], [], [], []
    for name, spec in run.specs.items():
        if not spec.focal:
            continue
        variants = comparison_variants(spec, terms=run.study.compare_terms,
                                       columns=set(run.frame.columns),
                                       focal_predictors=run.study.focal_predictors)
        results = fit_suite({v.name: v for v in variants.values()}, run.frame,
                            settings=run.settings, fits_dir=out / "fits", engine=engine,
                            progress=console.progress)
        # a latent per tenant measured by several items: PSIS-LOO leaves out a tenant's
        # answers together with the latent integrated out (as in the main run's loo.csv)
        per_tenant = hasattr(spec.family_impl, "latent_log_density")
        fits = {label: latent_integrated_tree(r.tree, r.spec, r.data) if per_tenant else r.tree
                for label, r in zip(variants, results, strict=True)}
        loos.append(loo_table(fits).assign(outcome=name))
        tables.append(compare_table(fits, outcome=name).assign(criterion="PSIS-LOO (tenant)"))
        if per_tenant:
            loadings.append(_loadings(dict(zip(variants, results, strict=True)), name))
        logo_tables, logo_points = _leave_complexes_out(
            args, name, dict(zip(variants, results, strict=True)), run.settings, out)
        tables += logo_tables
        logos += logo_points
    if not tables:
        raise WorkflowError("error: compare needs at least one model with a focal level "
                            "(and a likelihood per row); none of the requested models has one")
    pooled = pooled_link_table(logos)
    if pooled is not None:
        tables.append(pooled)
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out / "compare.csv")
    write_csv(pd.concat(loos, ignore_index=True), out / "loo.csv")
    if logos:
        write_csv(pd.concat(logos, ignore_index=True), out / "logo.csv")
    console.print_compare(table)
    loadings = [t for t in loadings if t is not None]
    if loadings:
        loadings = pd.concat(loadings, ignore_index=True)
        write_csv(loadings, out / "loadings.csv")
        console.say("\nEqual vs free item loadings (PSIS-LOO per tenant, the latent integrated "
                    "out; elpd_diff = free - equal, free preferred only beyond 2 dse):")
        console.say(loadings[["outcome", "elpd_equal", "elpd_free", "elpd_diff", "dse",
                              "preferred", "loadings"]].round(1).to_string(index=False))
    return 0


def _loadings(results: dict, outcome: str) -> pd.DataFrame | None:
    """:func:`diagnostics.crossval.loadings_comparison` of an item model's hierarchical
    fit and its variant with the other loading structure (``[free loadings]`` or
    ``[equal loadings]``, :func:`models.spec.comparison_variants`); ``None`` without one."""
    from diagnostics.crossval import loadings_comparison

    base = next(iter(results.values()))
    other = next((r for label, r in results.items() if label.endswith(" loadings]")), None)
    if other is None:
        return None
    fits = {bool(r.spec.family_impl.free_loadings): (r.tree, r.spec, r.data)
            for r in (base, other)}
    return loadings_comparison(fits[False], fits[True], outcome=outcome)


def pooled_link_table(points: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The link question over all cumulative outcomes at once: each outcome's hierarchical
    (logit) model and its probit-link variant, their leave-one-complex-out elpd summed per
    complex over the outcomes (:func:`diagnostics.crossval.pooled_by_group`), compared like
    one outcome's models. ``points``: the per-group tables of :func:`_leave_complexes_out`.
    ``None`` with fewer than two such outcomes."""
    from diagnostics.crossval import compare_pointwise, pooled_by_group
    from diagnostics.worlds import LINK_VARIANT

    base, alt = {}, {}
    for t in points:
        outcome, label = t["outcome"].iloc[0], t["model"].iloc[0]
        series = t.set_index("group")["elpd"]
        if label == f"{outcome}[hierarchical]":
            base[outcome] = series
        elif label == f"{outcome}[{LINK_VARIANT}]":
            alt[outcome] = series
    both = sorted(set(base) & set(alt))
    if len(both) < 2:
        return None
    pooled = {"logit link (hierarchical)": pooled_by_group([base[o] for o in both]),
              LINK_VARIANT: pooled_by_group([alt[o] for o in both])}
    return compare_pointwise(pooled, outcome="pooled: " + ", ".join(both),
                             criterion=f"PSIS-LOGO pooled over {len(both)} cumulative "
                                       f"outcomes")


def _leave_complexes_out(args, outcome: str, results: dict, settings, out: Path
                         ) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """One outcome's leave-one-complex-out comparison tables and per-group values.

    PSIS-LOGO per variant; groups whose Pareto k exceeds 0.7 are refitted without that
    group (at most ``--reloo-max`` per variant; beyond that the PSIS value stays, counted in
    the table's note). With ``--kfold K``, grouped K-fold by complex as well.
    """
    import dataclasses

    from diagnostics.crossval import (
        PARETO_K_BAD,
        compare_pointwise,
        logo_level,
        psis_logo,
        unsupported_reason,
    )
    from inference.crossval import fold_tasks, group_folds, heldout_task, pointwise_from_results
    from inference.parallel import run_tasks

    usable = {label: r for label, r in results.items() if not unsupported_reason(r.spec)
              and logo_level(r.spec) == logo_level(next(iter(results.values())).spec)}
    skipped = sorted(set(results) - set(usable))
    if skipped:
        why = [unsupported_reason(results[s].spec) or "another lowest level" for s in skipped]
        console.progress(f"{outcome}: leave-one-complex-out skips {skipped}: {why}")
    if len(usable) < 2:
        return [], []
    refit = dataclasses.replace(settings, predictive=False)
    datas = {r.spec.name: r.data for r in usable.values()}
    specs = {r.spec.name: r.spec for r in usable.values()}
    hashes = {k: d.data_hash() for k, d in datas.items()}
    label_of = {r.spec.name: label for label, r in usable.items()}

    def batch(held, store):
        tasks = fold_tasks(specs, held, settings=refit, data_hashes=hashes)
        if not tasks:
            return {}
        res = run_tasks(heldout_task, tasks, store=store,
                        shared={"datas": datas, "settings": refit},
                        scheduler=getattr(args, "scheduler", None),
                        workers=getattr(args, "workers", None),
                        retries=getattr(args, "retries", 2),
                        progress=lambda msg: console.progress(f"  {msg}"))
        if res.failures:
            raise WorkflowError(f"error: {len(res.failures)} leave-complexes-out refit(s) of "
                                f"{outcome} failed: {res.failures[0].error}", code=1)
        return pointwise_from_results(res.results)

    # PSIS-LOGO, then exact refits of the groups whose importance weights are unreliable
    logo, held = {}, {}
    cap = getattr(args, "reloo_max", 10)
    for name, r in zip(specs, usable.values(), strict=True):
        logo[name] = psis_logo(r.tree, r.spec, r.data).assign(model=label_of[name],
                                                              refitted=False)
        level = logo_level(r.spec)
        index = {str(g): i for i, g in enumerate(r.data.level_labels[level])}
        bad = logo[name].query(f"pareto_k > {PARETO_K_BAD}").sort_values(
            "pareto_k", ascending=False)["group"].head(cap)
        held[name] = {f"group-{index[g]}": [index[g]] for g in bad}
    exact = batch(held, out / "tasks" / "logo")
    pointwise = {}
    for name, table in logo.items():
        if name in exact:  # the refits replace the PSIS values of their groups
            hit = table["group"].isin(exact[name].index)
            table.loc[hit, "elpd"] = table.loc[hit, "group"].map(exact[name])
            table.loc[hit, "refitted"] = True
        pointwise[label_of[name]] = table.set_index("group")["elpd"]
    level = logo_level(next(iter(usable.values())).spec)
    tables = [compare_pointwise(pointwise, criterion=f"PSIS-LOGO ({level})", outcome=outcome)]
    notes = {label_of[n]: int(((t["pareto_k"] > PARETO_K_BAD) & ~t["refitted"]).sum())
             for n, t in logo.items()}
    tables[0]["pareto_k_bad_left"] = tables[0]["model"].map(notes)
    k = getattr(args, "kfold", 0) or 0
    if k:
        folds = {n: group_folds(specs[n], datas[n], k, seed=settings.seed) for n in specs}
        held = {n: {f"fold-{f}": np.flatnonzero(folds[n] == f).tolist() for f in range(k)}
                for n in specs}
        kf = batch(held, out / "tasks" / "kfold")
        tables.append(compare_pointwise({label_of[n]: v for n, v in kf.items()},
                                        criterion=f"grouped {k}-fold ({level})",
                                        outcome=outcome))
    points = [t.assign(outcome=outcome) for t in logo.values()]
    return tables, points


def concepts_command(args: argparse.Namespace) -> int:
    """Predict outcomes for new housing concepts from their building features."""
    from data.concepts import load_concepts
    from diagnostics.concepts import feature_identification, form_complexes, predict_concepts
    from diagnostics.plots import concepts_figure, save_figure

    features = getattr(args, "features", None) or "design"
    concepts = load_concepts(args.concepts, features=features)
    run = setup(args, suite="features")
    out = args.out or Path("results") / "concepts"
    out.mkdir(parents=True, exist_ok=True)
    results = fit_suite(run.specs, run.frame, settings=run.settings, fits_dir=out / "fits",
                        progress=console.progress)
    tables, identified = [], []
    for r in results:
        complexes = form_complexes(run.frame, r.spec)
        tables.append(predict_concepts(r.tree, r.spec, r.data, concepts=concepts,
                                       complexes=complexes)
                      .assign(verdict=_verdict(r), features=features))
        identified.append(feature_identification(r.tree, r.spec, r.data, complexes))
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out / "concepts.csv")
    identified = pd.concat(identified, ignore_index=True)
    write_csv(identified, out / "identification.csv")
    console.print_identification(identified)
    save_figure(concepts_figure(table, names=run.study.label_name), out / "concepts.png")
    console.print_concepts(table, out)
    return 0
