"""One workbench command run in this process, as ``run_models.py <command>`` runs it."""

from __future__ import annotations

__all__ = ["FitError", "run_command"]


class FitError(RuntimeError):
    """A command of the workbench stopped (its message is the command line's)."""


def run_command(command: str, *argv: str) -> int:
    """Run ``run_models.py <command> <argv...>`` in this process; raise :class:`FitError`
    with the command's message when it stops with a non-zero exit code."""
    from data.concepts import ConceptError
    from models.design import PreparationError
    from workflows.commands import COMMANDS, build_parser
    from workflows.setup import WorkflowError

    args = build_parser().parse_args([command, *argv])
    args.argv = ["clusterwonen", command, *argv]  # recorded in run.json
    try:
        code = {c.name: c for c in COMMANDS}[command].run(args)
    except WorkflowError as err:
        raise FitError(str(err)) from err
    except (PreparationError, ConceptError) as err:  # as run_models.main reports them
        raise FitError(f"error: {err}") from err
    if code:
        raise FitError(f"{command} {' '.join(argv)}: exit code {code} (see the messages above)")
    return code
