"""``waternet jobs``: the process that runs every periodic job (or prints their status)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

import typer

from waternet.config import get_settings


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else "-"


def print_status(rows: list[dict[str, Any]]) -> None:
    if not rows:
        typer.echo("no job has run yet (is `waternet jobs` running?)")
        return
    for r in rows:
        typer.echo(
            f"{r['job']}: {r['state']} (process {r['process']}, as of {_when(r['updated_at'])})"
        )
        typer.echo(f"  last success: {_when(r['last_success'])}")
        error = f"{r['last_error']} at {_when(r['last_error_at'])}" if r["last_error"] else "-"
        typer.echo(f"  last error:   {error}")
        typer.echo(f"  failures:     {r['failures']}")
        typer.echo(f"  next run:     {_when(r['next_run'])}")


def jobs(
    status: Annotated[
        bool, typer.Option("--status", help="Print each job's status (from the database) and exit")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: JSON")] = False,
    port: Annotated[
        int | None, typer.Option(help="Health port (default WATERNET_JOBS_HTTP_PORT)")
    ] = None,
) -> None:
    """Run the periodic jobs (rollups, retention, push spool replay) with a health endpoint."""
    from waternet.cli.core import require_db_url, setup_logging
    from waternet.jobs import process, service

    url = require_db_url()
    if status:
        rows = service.status(url)
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
        else:
            print_status(rows)
        return
    setup_logging()
    asyncio.run(process.serve(get_settings(), port=port))


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs)
