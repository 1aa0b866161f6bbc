"""Entry point: simulate, load, fit every outcome's model, diagnose, and write results.

    python run_models.py                      # default simulated data, every outcome
    python run_models.py --quick              # small draws: a smoke run in minutes
    python run_models.py --data DIR           # real data in the canonical format
    python run_models.py --config FILE.toml   # another study: own data, outcomes, priors
    python run_models.py simulate --seed 3 --out sim3
    python run_models.py --help

Results go to ``results/<run>/`` (``--out``): ``fits/<model>.nc``, ``summary.csv``,
``effects.csv``, ``diagnostics.csv``, ``missing.csv``, ``report.html``. Reruns reuse
matching fits; an interrupted run resumes where it stopped. The workflows live in
``workflows/``; this file only parses, dispatches and maps errors to exit codes.
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
    if not argv or argv[0] not in (*names, "-h", "--help"):
        argv = [DEFAULT_COMMAND, *argv]
    args = build_parser(__doc__).parse_args(argv)
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
