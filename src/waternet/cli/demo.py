"""``waternet demo``: everything on one laptop, embedded services where none are configured."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from pathlib import Path
from typing import Annotated

import typer

from waternet.config import get_settings, reset_settings

DEMO_USER = "dispatcher"


def _demo_password(state_dir: Path) -> str:
    path = state_dir / "demo-password"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    path.write_text(value)
    path.chmod(0o600)
    return value


def demo(
    port: Annotated[int, typer.Option(help="HTTP port (0: any free port)")] = 8000,
    duration: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: run until Ctrl-C)")
    ] = 0.0,
    size: Annotated[str, typer.Option(help="Demo city size: small, medium or large")] = "medium",
) -> None:
    """Start the whole system with a demo city, a simulated fleet and the dispatch map."""
    from waternet.cli.core import setup_logging
    from waternet.errors import ConfigError

    if size not in ("small", "medium", "large"):
        raise ConfigError("--size must be small, medium or large")

    # the terminal keeps the short lines below; access and application logs go to the file
    log_file = get_settings().state_dir / "logs" / "demo.log"
    setup_logging(log_file=log_file)
    typer.echo(f"logs: {log_file}")
    asyncio.run(_run_demo(port=port, duration=duration, size=size))


async def _run_demo(*, port: int, duration: float, size: str) -> None:
    import uvicorn

    from waternet.api.app import create_app
    from waternet.auth import service as auth_service
    from waternet.cli.core import DEMO_DATABASE_URL_FILE
    from waternet.db import migrate
    from waternet.db.aconnect import aconnect
    from waternet.demo import runtime as demo_city
    from waternet.demo.embedded import EmbeddedBroker, free_port, start_postgres
    from waternet.jobs.registry import default_jobs
    from waternet.jobs.runner import Runner

    settings = get_settings()
    state_dir = settings.state_dir
    pg = None
    broker = None
    runtime = None
    url_file = state_dir / DEMO_DATABASE_URL_FILE
    jobs = None
    try:
        if not settings.database_url:
            pg = await asyncio.to_thread(start_postgres, state_dir)
            os.environ["WATERNET_DATABASE_URL"] = pg.url
            typer.echo(f"started embedded PostgreSQL (data in {pg.data_dir})")
        os.environ.setdefault("WATERNET_CTWING_KEY", demo_city.DEMO_CTWING_KEY)
        os.environ.setdefault("WATERNET_ONENET_TOKEN", demo_city.DEMO_ONENET_TOKEN)
        if not settings.mqtt_url:
            broker = EmbeddedBroker(port=1883)
            await broker.start()
            os.environ["WATERNET_MQTT_URL"] = broker.url
            typer.echo(f"started in-process MQTT broker at {broker.url}")
        reset_settings()
        settings = get_settings()
        assert settings.database_url
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        typer.echo("database migrated")
        typer.echo(
            f"database URL: {settings.database_url} (other waternet commands on this "
            f"state dir use it while the demo runs)"
        )
        # `waternet users add` and friends find the demo's database through this file
        state_dir.mkdir(parents=True, exist_ok=True)
        url_file.write_text(settings.database_url + "\n")
        url_file.chmod(0o600)
        password = _demo_password(state_dir)
        async with aconnect(settings.database_url) as conn:
            await auth_service.add_user(conn, name=DEMO_USER, password=password, role="dispatcher")
        version = await asyncio.to_thread(demo_city.ensure_network, settings, size=size)
        typer.echo(f"demo city ({size}) is network version {version}")

        http_port = free_port(port) if port else free_port(0)
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host=settings.http_host, port=http_port, log_config=None)
        )
        # Ctrl-C and SIGTERM stop the server through our handlers, then the finally block below
        # stops the embedded services; uvicorn must not install (and re-raise) its own.
        setattr(server, "capture_signals", contextlib.nullcontext)  # noqa: B010
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        if duration > 0:
            loop.call_later(duration, lambda: setattr(server, "should_exit", True))
        url = f"http://{settings.http_host}:{http_port}/"
        runtime = await asyncio.to_thread(
            demo_city.start,
            settings,
            size=size,
            api_base=url.rstrip("/"),
            embedded_broker=broker is not None,
        )
        # the periodic jobs (rollups, retention, push spool) run in this process, not in the API
        jobs = Runner(list(default_jobs(settings)), url=settings.database_url)
        await jobs.start()
        typer.echo(
            f"ingest worker and simulated fleet running (a main bursts "
            f"{demo_city.BURST_AFTER_S // 60} minutes in)"
        )
        typer.echo(f"log in as {DEMO_USER!r} with password {password!r}")
        typer.echo(f"dispatch map: {url}")
        typer.echo("press Ctrl-C to stop")
        await server.serve()
    finally:
        url_file.unlink(missing_ok=True)
        if jobs is not None:
            await jobs.stop()
        if runtime is not None:
            await asyncio.to_thread(runtime.shutdown)
        if broker is not None:
            await broker.stop()
        if pg is not None:
            await asyncio.to_thread(pg.stop)
        typer.echo("demo stopped")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
