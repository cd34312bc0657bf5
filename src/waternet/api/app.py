"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from waternet import __version__
from waternet.api import errors, health
from waternet.auth.security import load_or_create_secret
from waternet.config import Settings, get_settings
from waternet.db.connect import make_async_pool
from waternet.errors import ConfigError

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise ConfigError("WATERNET_DATABASE_URL is required to serve the API")
    pool = make_async_pool(settings.database_url, max_size=settings.db_pool_max)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from waternet.telemetry.router import replay_loop

        await pool.open(wait=False)
        replay = asyncio.create_task(replay_loop(app))
        log.info("api started", extra={"version": __version__})
        try:
            yield
        finally:
            replay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replay
            if getattr(app.state, "push_writer", None) is not None:
                app.state.push_writer.close()
            await pool.close()

    app = FastAPI(
        title="waternet",
        version=__version__,
        description="Water-utility telemetry and incident-response API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.jwt_secret = load_or_create_secret(settings.jwt_secret, settings.state_dir)
    app.state.push_writer = None
    errors.install(app)
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from waternet.auth.router import router as auth_router
    from waternet.telemetry.router import router as telemetry_router

    app.include_router(health.router)
    app.include_router(auth_router)
    app.include_router(telemetry_router)
    for module in _domain_routers():
        app.include_router(module)


def _domain_routers() -> list:  # type: ignore[type-arg]
    """Routers of the domain packages, added as each domain lands."""
    routers = []
    import importlib

    for name in (
        "waternet.telemetry.query_router",
        "waternet.network.router",
        "waternet.web.router",
    ):
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):
                raise
            continue
        routers.append(mod.router)
    return routers
