"""Use cases of the jobs process: run the jobs with their HTTP health server, read the status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from waternet.config import Settings
from waternet.jobs import repository
from waternet.jobs.registry import default_jobs
from waternet.jobs.runner import Runner

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, *, port: int | None = None, stop: asyncio.Event | None = None
) -> None:
    """``waternet jobs``: run every job and the health endpoints until SIGINT/SIGTERM (or
    ``stop``); then stop the jobs cleanly."""
    import uvicorn

    from waternet.jobs.router import create_app

    assert settings.database_url
    runner = Runner(list(default_jobs(settings)), url=settings.database_url)
    stop = stop or asyncio.Event()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runner),
            host=settings.http_host,
            port=settings.jobs_http_port if port is None else port,
            log_config=None,
        )
    )
    # our signal handlers stop the jobs and the server; uvicorn must not install its own
    setattr(server, "capture_signals", contextlib.nullcontext)  # noqa: B010
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    await runner.start()
    http = asyncio.create_task(server.serve(), name="waternet-jobs-http")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({http, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if http.done() and http.exception() is not None:
            log.error("jobs health server failed", exc_info=http.exception())
    finally:
        server.should_exit = True
        await runner.stop()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await http


def status(url: str) -> list[dict[str, Any]]:
    """``waternet jobs --status``: every job's row of ``job_status``."""
    from waternet.db.connect import connect

    with connect(url) as conn:
        return repository.load_status(conn)
