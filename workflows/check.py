"""``run_models.py check``: load and validate the config and the data, describe each model.

Nothing is fitted: the config is read, the data loaded and validated, the suite's specs
built and each model's rows prepared exactly as a fit would, so that a broken config or
data set is found in seconds, with the message naming the key or the column.
"""

from __future__ import annotations

import argparse

from models.spec import ModelSpec

__all__ = ["check_command", "formula"]


def _term(term) -> str:
    """One term as a formula reads it (``C(ses)``, ``scale(x)``, ``a:b``)."""
    if term.kind == "categorical":
        ref = f', ref="{term.reference}"' if term.reference is not None else ""
        return f"C({term.name}{ref})"
    if term.kind in ("standardize", "scaled"):
        return f"scale({term.name})"
    if term.kind == "center":
        return f"center({term.name})"
    if term.kind == "interaction":
        return ":".join(term.parts)
    return term.name


def formula(spec: ModelSpec) -> str:
    """The model as an lme4/brms-style formula: response, terms, focal and group levels.

    The focal level reads ``(1 | focal)`` when partially pooled (``hierarchical``) and as a
    fixed term when ``fixed``; varying slopes as ``(1 + x | g)``; nested levels as
    ``(1 | high/low)``, crossed ones each on their own.
    """
    response = spec.response
    if spec.items:
        response = "items(" + ", ".join(spec.items) + ")"
    if spec.trials:
        response = f"{response} | trials({spec.trials})"
    rhs = [_term(t) for t in spec.terms] or ["1"]
    random = [lv for lv in spec.levels if lv != spec.focal]
    if spec.focal and spec.variant == "fixed":
        rhs.append(f'C({spec.focal}, ref="{spec.reference}")' if spec.reference
                   else f"C({spec.focal})")
    slopes: dict[str, list[str]] = {}
    for entry in spec.slopes:
        term, _, level = entry.partition("|")
        slopes.setdefault(level, []).append(term)
    groups = []
    for i, level in enumerate(random):
        within = random[i + 1:] if spec.nested else []
        name = "/".join([*reversed(within), level]) if within and not slopes.get(level) \
            else level
        groups.append(f"(1{''.join(f' + {t}' for t in slopes.get(level, []))} | {name})")
    if spec.focal and spec.variant == "hierarchical":
        groups.append(f"(1 | {spec.focal})")
    return f"{response} ~ " + " + ".join(rhs + groups)


def check_command(args: argparse.Namespace) -> int:
    """Validate config and data and print each model: formula, family, levels, rows."""
    from models.design import prepare
    from workflows import console
    from workflows.setup import WorkflowError, setup

    try:  # the formula module's writer where it exists (it round-trips with its parser)
        from models.formula import to_formula as written
    except ImportError:
        written = formula
    run = setup(args, impute=False)
    source = run.config.source
    console.say(f"config: {source if source != '<defaults>' else 'none (the housing study)'}")
    joints = run.study.two_parts(run.specs) if run.study.two_parts else {}
    console.say(f"{len(run.specs)} model(s)" + (f" and {len(joints)} joint model(s)" if joints
                                                else "") + "; nothing fitted\n")
    problems = 0
    for name, spec in run.specs.items():
        console.say(f"{name}")
        console.say(f"  formula  {written(spec)}")
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
