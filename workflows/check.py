"""``run_models.py check``: load and validate the config and the data, describe each model.

Nothing is fitted: the config is read, the data loaded and validated, the suite's specs
built and each model's rows prepared exactly as a fit would, so that a broken config or
data set is found in seconds, with the message naming the key or the column.
"""

from __future__ import annotations

import argparse

__all__ = ["check_command"]


def check_command(args: argparse.Namespace) -> int:
    """Validate config and data and print each model: formula (lme4/brms style,
    :func:`models.formula.to_formula`), family, levels, rows used and dropped."""
    from models.design import prepare
    from models.formula import to_formula
    from workflows import console
    from workflows.setup import WorkflowError, setup

    run = setup(args, impute=False)
    source = run.config.source
    console.say(f"config: {source if source != '<defaults>' else 'none (the housing study)'}")
    joints = run.study.two_parts(run.specs) if run.study.two_parts else {}
    console.say(f"{len(run.specs)} model(s)" + (f" and {len(joints)} joint model(s)" if joints
                                                else "") + "; nothing fitted\n")
    problems = 0
    for name, spec in run.specs.items():
        console.say(f"{name}")
        console.say(f"  formula  {to_formula(spec)}")
        extra = f", categories {list(spec.categories)}" if spec.categories else ""
        console.say(f"  family   {spec.family}{extra}")
        levels = ", ".join(
            f"{lv} ({run.frame[lv].nunique():,})" if lv in run.frame else lv
            for lv in spec.levels)
        focal = f"; focal {spec.focal} ({spec.variant}, reference {spec.reference})" \
            if spec.focal else ""
        console.say(f"  levels   {levels or '(none)'}{focal}")
        try:
            data = prepare(run.frame, spec)
        except Exception as err:  # noqa: BLE001 - report every model, then fail
            console.say(f"  ERROR    {err}")
            problems += 1
            continue
        dropped = data.n_before - data.n
        missing = data.removed[data.removed["n_missing"] > 0]
        why = " (missing: " + ", ".join(f"{r.variable} {r.n_missing:,}"
                                        for r in missing.itertuples()) + ")" if dropped else ""
        outside = len(run.frame) - data.n_before
        subset = f"; {outside:,} outside subset {spec.subset!r}" if spec.subset else ""
        console.say(f"  rows     {data.n:,} used, {dropped:,} dropped{why}{subset}")
    for name, joint in joints.items():
        gate, part = joint.parts
        console.say(f"{name}\n  joint    {gate.name} and {part.name} (two-part outcome: the "
                    f"unconditional effect)")
    if problems:
        raise WorkflowError(f"error: {problems} model(s) could not be prepared (above)")
    console.say("\nok: the config and the data are valid for every model")
    return 0
