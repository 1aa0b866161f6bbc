"""The workbench's jobs: each subcommand's workflow, its setup and its console output.

``run_models.py`` parses arguments and dispatches to :data:`workflows.commands.COMMANDS`;
everything a command does between reading its arguments and returning an exit code lives
here, one module per job.
"""
