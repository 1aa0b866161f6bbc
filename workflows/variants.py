"""Workflows that fit variants of the suite: LOO comparison, who benefits, new concepts."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    """PSIS-LOO comparison of each outcome's variants (hierarchical, fixed, none, ...)."""
    from diagnostics.compare import compare_table, loo_table
    from inference.engine import Engine
    from models.spec import comparison_variants

    run = setup(args)
    out = args.out or Path("results") / "compare"
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    tables, loos = [], []
    for name, spec in run.specs.items():
        if spec.family_impl.uses_items or not spec.focal:
            continue
        variants = comparison_variants(spec, terms=run.study.compare_terms,
                                       columns=set(run.frame.columns))
        results = fit_suite({v.name: v for v in variants.values()}, run.frame,
                            settings=run.settings, fits_dir=out / "fits", engine=engine,
                            progress=console.progress)
        fits = {label: r.tree for label, r in zip(variants, results, strict=True)}
        loos.append(loo_table(fits).assign(outcome=name))
        tables.append(compare_table(fits, outcome=name))
    if not tables:
        raise WorkflowError("error: compare needs at least one model with a focal level "
                            "(and a likelihood per row); none of the requested models has one")
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out / "compare.csv")
    write_csv(pd.concat(loos, ignore_index=True), out / "loo.csv")
    console.print_compare(table)
    return 0


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
