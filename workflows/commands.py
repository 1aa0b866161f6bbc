"""The table of subcommands: one entry feeds both the argument parser and the dispatch.

Adding a subcommand is one :class:`Command` here (its arguments and its workflow). Every
option has help text, and the help shows its default (:class:`HelpFormatter`). An option
renamed for one name per concept keeps its old spelling as a hidden alias
(:func:`_alias`), so that old command lines keep working.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workflows.setup import DEFAULT_SEED, QUICK

__all__ = ["COMMANDS", "DEFAULT_COMMAND", "Command", "HelpFormatter", "build_parser",
           "version"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions kept as written; an option's default appended where the help text does
    not state it already (a default of ``None`` is stated in words by the help itself)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unstated = action.default is None or action.default is False \
            or action.default is argparse.SUPPRESS  # (0.0 == False: compare by identity)
        if "default" in text or unstated or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _alias(p: argparse.ArgumentParser, old: str, dest: str, **kwargs) -> None:
    """``old`` still accepted for ``dest`` (a renamed option), not shown in the help."""
    p.add_argument(old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                   **kwargs)


def version() -> str:
    """The installed distribution's version (``clusterwonen``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("clusterwonen")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _data_args(p: argparse.ArgumentParser, *, outcomes: bool = True) -> None:
    """Where the data and the models come from (every command that reads data)."""
    p.add_argument("--data", type=Path, help="directory with complexes.* and tenants.* "
                   "(csv, parquet or sav); default: the config's [data], else the built-in "
                   "simulated data set")
    p.add_argument("--config", type=Path, help="study config (TOML) with own data, outcomes, "
                   "priors and wording; see docs/config.md; default: the housing study")
    _formula_args(p)
    if outcomes:
        p.add_argument("--outcomes",
                       help="comma-separated outcomes (each with its models under every "
                       "adjustment set; a two-part outcome's joint model when its gate is "
                       "listed too, e.g. contact,friendly_contact) or model names; an unknown "
                       "name is an error; default: every outcome present in the data")


def _formula_args(p: argparse.ArgumentParser) -> None:
    """One model as an lme4/brms formula on one table (docs/formulas.md)."""
    from models.families import FAMILIES

    p.add_argument("--formula", help="one model as an lme4/brms formula, e.g. \"score ~ girl "
                   "+ scale(hours) + C(ses) + (1 | school/class_id)\"; replaces the config's "
                   "[[outcomes]] (see docs/formulas.md); default: none")
    p.add_argument("--table", type=Path, help="one table (csv, parquet or sav) holding the "
                   "response, the terms and the grouping columns; wins over the config's "
                   "[data]; default: the config's [data]")
    p.add_argument("--family", choices=tuple(FAMILIES),
                   help="--formula's response family (default gaussian, as lme4's lmer)")
    p.add_argument("--focal", help="--formula: the highest grouping level whose contrasts "
                   "are the estimand (needs --reference); default: none")
    p.add_argument("--reference", help="--formula: the focal level every contrast is taken "
                   "against; default: none")


def _effects_args(p: argparse.ArgumentParser) -> None:
    """The main job's own: whom the probability-scale effects stand for, and ``--strict``."""
    p.add_argument("--subgroup", help="comma-separated focal levels whose own rows are "
                   "also a target subgroup of the probability-scale effects (e.g. RO: "
                   "every form's counterfactual for RO's residents), or subgroups "
                   "column=value (age_group=4); all analysed rows always; default: none")
    p.add_argument("--population", type=Path,
                   help="register of invited tenants (a 'responded' column) or table of "
                   "cell counts (a 'count' column), csv/parquet/sav: the probability-scale "
                   "effects are also standardised to it (post-stratification; for a register "
                   "also response-propensity weights); housing study only; default: none, "
                   "the effects stand for the respondents")
    p.add_argument("--cells", help="comma-separated cell variables of --population (default: "
                   "its columns that are also columns of the data); housing study only")
    p.add_argument("--by", help="comma-separated columns: the probability-scale effects also "
                   "for each of their values (subgroups, e.g. age_group); default: none")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when any model's convergence verdict is 'fail'")


def _fit_args(p: argparse.ArgumentParser, *, outcomes: bool = True,
              effects: bool = True) -> None:
    """The fitting options; ``effects``: also those only the main job reads (subgroups, the
    population file, ``--strict``), which the other fitting commands do not offer."""
    from data.suite import ADJUSTMENTS
    from inference.engine import ADAPTATIONS, SAMPLERS
    from models.spec import VARIANTS

    _data_args(p, outcomes=outcomes)
    p.add_argument("--variant", choices=VARIANTS,
                   help="focal-level variant (default hierarchical)")
    p.add_argument("--adjustment", choices=ADJUSTMENTS,
                   help="housing suite's tenant covariates: the report's twelve (study, the "
                   "default: a controlled effect), pre-residence confounders only (the total "
                   "effect), or both side by side; housing study only")
    if effects:
        _effects_args(p)
    p.add_argument("--missing", choices=("impute", "complete-case"),
                   help="missing covariates: multiple imputation by chained equations, every "
                   "model fitted on each imputation and the draws pooled (impute, the default)"
                   ", or rows with a missing value dropped model by model (complete-case)")
    p.add_argument("--imputations", type=int,
                   help="number of imputations (default: 100 x the fraction of incomplete "
                   "rows, at least 5 and at most 40)")
    p.add_argument("--sampler", choices=SAMPLERS,
                   help="nutpie (default: compiled once per model shape), pymc (PyMC's NUTS) "
                   "or numpyro (JAX; needs `uv sync --extra jax`)")
    p.add_argument("--adaptation", choices=ADAPTATIONS,
                   help="nutpie mass-matrix adaptation (default draw_diag)")
    p.add_argument("--draws", type=int, help="draws per chain after tuning (default: the "
                   "config's [sampler], else draws by target: a first round of 500, then "
                   "more until every reported parameter meets its ESS and R-hat target; "
                   "--quick: 250)")
    p.add_argument("--tune", type=int, help="tuning draws per chain (default: the config's "
                   "[sampler], else 300 in a run that draws by target and 1000 in one "
                   "with --draws; --quick: 300)")
    p.add_argument("--chains", type=int, help="chains (default: the config's [sampler], else 4;"
                   " --quick: 2)")
    p.add_argument("--target-accept", type=float, help="NUTS target acceptance rate (default: "
                   "the config's [sampler], else 0.9; the graded_latent family at least "
                   "0.95)")
    p.add_argument("--seed", type=int, help="sampler seed (default: the config's [sampler], "
                   "else 1)")
    p.add_argument("--top-up", type=int, metavar="N",
                   help="where a reported parameter's R-hat or ESS misses its threshold, draw "
                   "more: nutpie's chains run on and are judged again at growing checkpoints "
                   "(1.4x longer, or as far as the ESS per chain asks, at most 2x; up to "
                   "--draws x 2^N draws); other samplers, or cores capped below the chains: "
                   "rounds of more chains (ESS) or longer chains anew (R-hat); at most N looks "
                   "(default 3 when the draws are the default, else 0; --top-up 0 alone: a "
                   "fixed 4 x 1000 draws after 1000 tuning)")
    p.add_argument("--out", type=Path, help="output folder (default: results/default for the "
                   "main job, results/<config name> for a config run, results/<command> for "
                   "the other commands)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK['chains']} chains x {QUICK['draws']} draws after "
                   f"{QUICK['tune']} tuning, over the config's [sampler]; --draws, --tune "
                   "and --chains still win")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the library does "
                   "(INFO level)")


def _parallel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)"
                   ", or 'serial' to run in this process; default: a LocalCluster with one "
                   "worker process per core")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: cores)")
    p.add_argument("--retries", type=int, default=2,
                   help="retries of a failed task before it is reported (default 2)")


def _concepts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concepts", type=Path, default=Path("concepts.toml"),
                   help="TOML file of [[concept]] entries (default concepts.toml)")
    p.add_argument("--features", choices=("design", "all"), default="design",
                   help="building features of the model: design levers only (default), or "
                   "also the consultant's ratings of the community (involvement, vitality: "
                   "the report's model)")
    _fit_args(p, effects=False)


def _sbc_args(p: argparse.ArgumentParser) -> None:
    from inference.sbc import MISSPECIFICATIONS

    p.add_argument("--outcomes", dest="outcome", default="contact", metavar="MODEL",
                   help="model to calibrate, or 'all' for every default model (default contact)")
    _alias(p, "--outcome", "outcome")
    p.add_argument("--sims", type=int, default=200, help="number of simulations (default 200)")
    p.add_argument("--n-tenants", type=int,
                   help="smaller design for speed: whole lowest-level groups drawn (stratified "
                        "by the focal level) until about this many rows; default: the whole "
                        "design")
    p.add_argument("--sbc-seed", type=int, default=1, help="SBC seed: the prior draws and the "
                   "simulated responses")
    p.add_argument("--misspecify", choices=MISSPECIFICATIONS, default="none",
                   help="fit a deliberately wrong model (no-complex: ignore the lowest "
                   "grouping level; prior-mismatch: prior scales a third of those simulated "
                   "from) to see SBC flag it; none: the right model")
    _parallel_args(p)
    _fit_args(p, outcomes=False, effects=False)


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kfold", type=int, default=0, metavar="K",
                   help="also grouped K-fold cross-validation by complex (K refits per "
                   "variant; default 0: off). PSIS-LOGO always runs")
    p.add_argument("--reloo-max", type=int, default=10,
                   help="at most this many exact leave-one-complex-out refits per variant "
                   "for complexes whose PSIS-LOGO Pareto k > 0.7 (default 10)")
    _parallel_args(p)
    _fit_args(p, effects=False)


def _sensitivity_args(p: argparse.ArgumentParser) -> None:
    _parallel_args(p)
    _fit_args(p, effects=False)


def _tipping_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--column", help="the imputed covariate whose missing values may be missing "
                   "not at random (default: the one with the most missing values)")
    p.add_argument("--deltas", help="comma-separated departures of its imputed values, with 0: "
                   "log-odds for a 0/1 covariate, else its SD (default: -1,-0.5,0,0.5,1)")
    _fit_args(p, effects=False)


def _benefit_args(p: argparse.ArgumentParser) -> None:
    _fit_args(p, effects=False)


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--worlds", default="all",
                   help="comma-separated test worlds (data.simulate.WORLDS: default, probit, "
                   "non_proportional, complex_sd_by_form, shared_trait, form_by_covariate, "
                   "poor_overlap, heavy_tails, null_forms) or 'all' (default)")
    p.add_argument("--outcomes", help="comma-separated outcomes (default contact, gossip, "
                   "lonely, friendly_contact; the two-part ones as their total)")
    p.add_argument("--checks", action="store_true",
                   help="also whether the model checks notice each world: focal-level "
                   "predictive checks and leave-one-complex-out of relaxed variants (two "
                   "or three extra fits per outcome); writes checks.csv and flagged.csv")
    p.add_argument("--data-seed", type=int, default=7, help="data seed: each world's simulated "
                   "data set")
    p.add_argument("--n-rep", type=int, default=60,
                   help="brute-force replications per form for the truth (default 60)")
    p.add_argument("--draws", type=int, help="draws per chain (default 1000)")
    p.add_argument("--tune", type=int, help="tuning draws per chain (default 1000)")
    p.add_argument("--chains", type=int, help="chains (default 4)")
    p.add_argument("--seed", type=int, help="sampler seed (default 1)")
    p.add_argument("--out", type=Path, help="output folder (default results/validate)")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", nargs="?", type=Path, metavar="RUN_DIR",
                   help="the run folder to rebuild (default: results/default)")
    # the old spelling of RUN_DIR (its own dest: an absent positional would overwrite it)
    _alias(p, "--out", "out", type=Path)
    p.add_argument("--config", type=Path, help="a study config (TOML) for the wording; "
                   "default: the config the run recorded in run.json, else the housing study")


def _check_args(p: argparse.ArgumentParser) -> None:
    from data.suite import ADJUSTMENTS

    _data_args(p)
    p.add_argument("--adjustment", choices=ADJUSTMENTS,
                   help="housing suite's covariate set to check (default study); housing "
                   "study only")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the library does "
                   "(INFO level)")


def _simulate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-seed", type=int, default=DEFAULT_SEED,
                   help="data seed of the simulation")
    _alias(p, "--seed", "data_seed", type=int)  # renamed: --seed is the sampler's elsewhere
    p.add_argument("--out", type=Path, required=True, help="output directory (required)")
    p.add_argument("--n-tenants", type=int, default=2963, help="respondents (rows of tenants)")
    p.add_argument("--n-complexes", type=int, default=470, help="complexes")
    p.add_argument("--mcar-rate", dest="missing_rate", type=float, default=0.0, metavar="SHARE",
                   help="share of cells in covariates and outcome items missing completely "
                   "at random")
    _alias(p, "--missing-rate", "missing_rate", type=float)
    p.add_argument("--invited", type=int, default=0,
                   help="size of an invited population (the study: 14921); --n-tenants are "
                   "then the expected respondents, population.csv the register, and truth.json "
                   "holds the probability-scale truth for respondents and population")
    p.add_argument("--response-selection", type=float, default=1.0,
                   help="multiplies the response model's log-odds (data.nonresponse; 0: "
                   "response at random)")
    p.add_argument("--response-outcome", type=float, default=0.0,
                   help="log-odds of answering if lonely: response not at random given the "
                   "register (e.g. -0.8)")
    p.add_argument("--mar-rate", dest="covariate_missing", type=float, default=0.0,
                   metavar="SHARE",
                   help="share of self-reported covariates missing among respondents, at "
                   "random given age and personal care")
    _alias(p, "--covariate-missing", "covariate_missing", type=float)
    p.add_argument("--mnar", action="store_true",
                   help="covariates also missing more often the higher their own value")
    p.add_argument("--world", default="default",
                   help="test world (data.simulate.WORLDS): the fitted models' own "
                   "(default) or one that breaks an assumption, e.g. probit, shared_trait")


def _simulate(args: argparse.Namespace) -> int:
    import dataclasses

    from data.simulate import WORLDS, simulated_marginals, write_simulation
    from workflows.console import say

    if args.world not in WORLDS:
        say(f"error: unknown world {args.world!r}; known: {sorted(WORLDS)}")
        return 2
    try:
        design = dataclasses.replace(
            WORLDS[args.world], n_tenants=args.n_tenants, n_complexes=args.n_complexes,
            missing_rate=args.missing_rate, invited=args.invited,
            response_selection=args.response_selection, response_outcome=args.response_outcome,
            covariate_missing=args.covariate_missing, missing_not_at_random=args.mnar)
    except ValueError as err:
        say(f"error: {err}")
        return 2
    out = write_simulation(args.out, seed=args.data_seed, design=design)
    register = out["register"]
    say(f"wrote {args.out}/complexes.csv ({len(out['complexes'])} complexes), "
        f"tenants.csv ({len(out['tenants'])} tenants), truth.json"
        + (f", population.csv ({len(register)} invited, {int(register['responded'].sum())} "
           f"responded)" if register is not None else ""))
    say("\nSimulated marginals beside the report's published figures:")
    say(simulated_marginals(out["complexes"], out["tenants"]).round(3).to_string(index=False))
    return 0


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A workflow imported when run (``--help`` stays fast: no PyMC import)."""
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)
    return run


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, its arguments and the workflow that runs it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("fit", "fit every outcome's model, check them and write the report (the default "
            "command)", _fit_args, _lazy("workflows.fit", "fit_command")),
    Command("check", "validate a config and its data and describe each model (formula, "
            "family, levels, rows); fits nothing", _check_args,
            _lazy("workflows.check", "check_command")),
    Command("concepts", "predict outcomes for new housing concepts", _concepts_args,
            _lazy("workflows.variants", "concepts_command")),
    Command("benefit", "who benefits: clustered x openness/vulnerability", _benefit_args,
            _lazy("workflows.variants", "benefit_command")),
    Command("compare", "compare model variants per outcome: PSIS-LOO, leave-one-complex-out",
            _compare_args,
            _lazy("workflows.variants", "compare_command")),
    Command("sbc", "simulation-based calibration of a model (over Dask)", _sbc_args,
            _lazy("workflows.sbc", "sbc_command")),
    Command("sensitivity", "refit every model under a grid of priors", _sensitivity_args,
            _lazy("workflows.sensitivity", "sensitivity_command")),
    Command("tipping", "refit on imputations whose imputed covariate values are moved by "
            "delta (missing not at random): the delta at which each conclusion flips",
            _tipping_args, _lazy("workflows.tipping", "tipping_command")),
    Command("validate", "coverage of the truth in test worlds that break the model",
            _validate_args, _lazy("workflows.validate", "validate_command")),
    Command("report", "rebuild report.html and methods.md of a run folder (RUN_DIR) from its "
            "tables and fits; nothing refitted",
            _report_args, _lazy("workflows.report", "report_command")),
    Command("simulate", "write a simulated data set with its truth", _simulate_args, _simulate),
    Command("clear-cache", "remove the project's compile cache (.cache/pytensor)",
            lambda p: None, lambda args: _clear_cache()),
)


def _clear_cache() -> int:
    from inference.cache import CACHE_DIR, clear_cache
    from workflows.console import say

    freed = clear_cache()
    where = CACHE_DIR.parent
    say(f"removed {where} ({freed / 1e6:.1f} MB)" if freed else f"{where}: empty")
    return 0
DEFAULT_COMMAND = "fit"


DESCRIPTION = """\
Bayesian multilevel models of a nested survey: does where people live (a focal level, such
as the living form) change their outcomes, controlled for who lives there? Without a
subcommand, `fit` runs: every outcome of the housing study on the built-in simulated data,
or of a config with --config.

start here:
  run_models.py --quick                                  smoke run (2 chains x 250 draws)
  run_models.py                                          the full job (about 20-33 min, 2 cores)
  run_models.py check --config examples/pupils.toml      validate a config and data, fit nothing
  run_models.py --config examples/pupils.toml --quick    own data from a config
  run_models.py fit --help                               every option of the main job
"""
EPILOG = ("Results go to --out (default results/default; results/<config name> for a config "
          "run). Documentation: README.md and docs/.")


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The ``run_models.py`` parser: one subparser per entry of :data:`COMMANDS`.

    ``description`` replaces the newcomer's overview printed by ``--help``.
    """
    p = argparse.ArgumentParser(prog="run_models.py", description=description or DESCRIPTION,
                                epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=f"clusterwonen {version()}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.name, help=command.help,
                                             description=command.help,
                                             formatter_class=HelpFormatter))
    return p


def reference_markdown() -> str:
    """Every subcommand and option as Markdown tables (``docs/cli.md``, generated: a test
    checks the page against this, so the reference cannot drift from the parser)."""
    subs = next(a for a in build_parser()._actions if a.dest == "command").choices
    lines = ["# Command-line reference", "",
             "Generated from the parser (`workflows/commands.py`); regenerate with",
             "`uv run python -c \"from workflows.commands import reference_markdown; "
             "print(reference_markdown(), end='')\" > docs/cli.md`.",
             "`uv run clusterwonen` is the same command line as `uv run run_models.py`; "
             "without a subcommand, `fit` runs.", ""]
    for command in COMMANDS:
        parser = subs[command.name]
        formatter = HelpFormatter(prog=command.name)
        lines += [f"## `{command.name}`", "", command.help, ""]
        rows = []
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            name = ", ".join(f"`{s}`" for s in action.option_strings) or \
                f"`{action.metavar or action.dest}`"
            if action.choices:
                name += " " + "\\|".join(str(c) for c in action.choices)
            text = formatter._get_help_string(action) % {"default": action.default}
            text = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")
            rows.append(f"| {name} | {text} |")
        lines += ["| option | meaning and default |", "|---|---|", *rows, ""] if rows else \
            ["No options.", ""]
    return "\n".join(lines)
