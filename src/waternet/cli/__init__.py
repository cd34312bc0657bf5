"""The ``waternet`` command line. Sub-command groups live in sibling modules."""

from __future__ import annotations

import sys

import typer

from waternet.errors import ConfigError, ValidationFailed, WaternetError

app = typer.Typer(
    name="waternet",
    help="Water-utility telemetry and incident-response service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from waternet.cli import core, demo, jobs_cmds
    from waternet.cli import ingest_cmds as telemetry_cmds
    core.register(app)
    demo.register(app)
    jobs_cmds.register(app)
    telemetry_cmds.register(app)
    for name in ("waternet.cli.isolation_cmds", "waternet.cli.network_cmds", "simulators.cli"):
        import importlib

        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):
                raise
            continue
        mod.register(app)


def report_error(exc: WaternetError) -> int:
    """Print an error the way every command does; return the exit code."""
    print(f"error: {exc.message}", file=sys.stderr)
    if isinstance(exc.details, list):
        for item in exc.details:
            print(f"  - {item}", file=sys.stderr)
    return 2 if isinstance(exc, ConfigError | ValidationFailed) else 1


def main() -> None:
    _register()
    try:
        app()
    except WaternetError as exc:
        sys.exit(report_error(exc))
