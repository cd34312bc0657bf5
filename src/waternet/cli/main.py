"""The ``waternet`` Typer application, its command registration and its one error report."""

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
_registered = False


def register_commands() -> None:
    """Add every command group to :data:`app` (once; commands import their domains lazily)."""
    global _registered
    if _registered:
        return
    from waternet.cli import core, demo, ingest_cmds, isolation_cmds, jobs_cmds, network_cmds
    from waternet.demo import simulate

    for module in (core, demo, ingest_cmds, isolation_cmds, jobs_cmds, network_cmds, simulate):
        module.register(app)
    _registered = True


def report_error(exc: WaternetError) -> int:
    """Print an error the way every command does; return the exit code."""
    print(f"error: {exc.message}", file=sys.stderr)
    if isinstance(exc.details, list):
        for item in exc.details:
            print(f"  - {item}", file=sys.stderr)
    return 2 if isinstance(exc, ConfigError | ValidationFailed) else 1


def main() -> None:
    register_commands()
    try:
        app()
    except WaternetError as exc:
        sys.exit(report_error(exc))
