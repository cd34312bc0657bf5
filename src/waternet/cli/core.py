"""Core commands: migrate, serve, db-info, users, ingest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from waternet.config import get_settings
from waternet.errors import ConfigError

users_app = typer.Typer(help="Manage users and roles.", no_args_is_help=True)


DEMO_DATABASE_URL_FILE = "demo-database-url"


def require_db_url() -> str:
    """``WATERNET_DATABASE_URL``, else the database of a ``waternet demo`` running on the same
    state dir (it writes its URL to ``<state dir>/demo-database-url``), with a note on stderr."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    path = settings.state_dir / DEMO_DATABASE_URL_FILE
    url = path.read_text().strip() if path.is_file() else ""
    if url:
        typer.echo(
            f"WATERNET_DATABASE_URL is not set: using the running demo's database {url} "
            f"(from {path})",
            err=True,
        )
        return url
    raise ConfigError(
        "WATERNET_DATABASE_URL is not set (e.g. postgresql://user@127.0.0.1:5432/waternet); "
        "`waternet demo` starts an embedded database instead"
    )


def setup_logging(*, log_file: Path | None = None) -> None:
    from waternet.logs import configure_logging

    s = get_settings()
    configure_logging(level=s.log_level, json_logs=s.log_json, log_file=log_file)


def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    downgrade: Annotated[bool, typer.Option("--downgrade", help="Downgrade to --revision")] = False,
    storage_mode: Annotated[
        str, typer.Option(help="auto | timescaledb | postgres (first migration only)")
    ] = "auto",
) -> None:
    """Upgrade the database schema to the latest revision (or downgrade)."""
    from waternet.db import migrate as m

    if storage_mode not in ("auto", "timescaledb", "postgres"):
        raise ConfigError("--storage-mode must be auto, timescaledb or postgres")
    url = require_db_url()
    if downgrade:
        m.downgrade(url, revision="base" if revision == "head" else revision)
    else:
        m.upgrade(url, revision=revision, storage_mode=storage_mode)
    typer.echo(f"database at revision {m.current_revision(url) or 'base'}")


def db_info(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print server version, TimescaleDB version and license, and the partitioning mode."""
    from waternet.db import migrate as m
    from waternet.db.capabilities import probe
    from waternet.db.connect import connect

    url = require_db_url()
    with connect(url) as conn:
        info = probe(conn).as_dict()
        mode_row = None
        meta = conn.execute("SELECT to_regclass('waternet_meta') AS t").fetchone()
        if meta and meta["t"]:
            mode_row = conn.execute(
                "SELECT value FROM waternet_meta WHERE key = 'storage_mode'"
            ).fetchone()
    info["schema_mode"] = mode_row["value"] if mode_row else None
    info["revision"] = m.current_revision(url)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from waternet.db.capabilities import MODE_LABELS

    ts = info["timescaledb_version"]
    if ts:
        ts_line = f"{ts} (license {info['timescaledb_license']})"
    elif info["timescaledb_available"]:
        ts_line = f"not installed in this database (available: {info['timescaledb_available']})"
    else:
        ts_line = "not installed"
    typer.echo(f"server:       PostgreSQL {info['server_version']}")
    typer.echo(f"timescaledb:  {ts_line}")
    mode = info["schema_mode"] or info["mode"]
    typer.echo(f"partitioning: {MODE_LABELS[mode]}")
    typer.echo(f"mode:         {mode}")
    typer.echo(f"revision:     {info['revision'] or 'none (run waternet migrate)'}")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run the HTTP API and the dispatch map."""
    import uvicorn

    from waternet.api.app import create_app

    setup_logging()
    s = get_settings()
    require_db_url()
    uvicorn.run(create_app(s), host=host or s.http_host, port=port or s.http_port, log_config=None)


def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="admin|dispatcher|crew|analyst|service")],
    password: Annotated[
        str | None,
        typer.Option(help="Password; prompted when omitted", envvar="WATERNET_NEW_PASSWORD"),
    ] = None,
) -> None:
    """Add a user (or reset an existing one's password and role)."""
    from waternet.auth import service
    from waternet.db.aconnect import aconnect

    url = require_db_url()
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    async def run() -> None:
        async with aconnect(url) as conn:
            user = await service.add_user(conn, name=name, password=password, role=role)
        typer.echo(f"user {user.name} ({user.role.value}) saved")

    asyncio.run(run())


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.command("db-info")(db_info)
    app.command("serve")(serve)
    users_app.command("add")(users_add)
    app.add_typer(users_app, name="users")
