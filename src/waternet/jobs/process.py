"""The jobs process (``waternet jobs``): the runner with every job, and its HTTP health server
(:mod:`waternet.jobs.router`), until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from waternet.config import Settings
from waternet.errors import ServiceUnavailable
from waternet.jobs.registry import default_jobs
from waternet.jobs.router import create_app
from waternet.jobs.runner import Runner

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, *, port: int | None = None, stop: asyncio.Event | None = None
) -> None:
    """``waternet jobs``: run every job and the health endpoints until SIGINT/SIGTERM (or
    ``stop``); then stop the jobs cleanly."""
    import uvicorn

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
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if not stop.is_set():  # the health server ended by itself: exit non-zero, be restarted
        raise ServiceUnavailable("the jobs health server stopped; see the log")
