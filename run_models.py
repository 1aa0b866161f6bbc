"""Entry point (also the ``clusterwonen`` console script): parse, dispatch, exit codes.

``run_models.py --help`` is the user's overview (:data:`workflows.commands.DESCRIPTION`);
the subcommands and their options are the table :data:`workflows.commands.COMMANDS`, and
the workflows live in ``workflows/``.
"""

from __future__ import annotations

import logging
import sys

from inference.cache import use_project_cache

use_project_cache()  # before PyTensor is imported: .cache/pytensor (see inference/cache.py)

from workflows.commands import COMMANDS, DEFAULT_COMMAND, build_parser  # noqa: E402

_NOISY = ("pymc", "pytensor", "arviz", "numba", "distributed")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = {c.name: c for c in COMMANDS}
    if not argv or argv[0] not in (*names, "-h", "--help", "--version"):
        argv = [DEFAULT_COMMAND, *argv]
    args = build_parser().parse_args(argv)
    args.argv = ["run_models.py", *argv]  # recorded in run.json
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else
                        logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from data.concepts import ConceptError
    from models.design import PreparationError
    from workflows.setup import WorkflowError

    try:
        return names[args.command].run(args)
    except WorkflowError as err:
        print(err, file=sys.stderr)
        return err.code
    except (PreparationError, ConceptError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
