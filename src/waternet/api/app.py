"""The FastAPI application factory. The API process runs no periodic job: rollups, retention
and the push spool's replay run in the jobs process (``waternet jobs``, :mod:`waternet.jobs`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from waternet import __version__
from waternet.api import errors, health
from waternet.auth.security import load_or_create_secret
from waternet.config import Settings, get_settings
from waternet.db.connect import api_pool_size, make_async_pool
from waternet.errors import ConfigError
from waternet.ingest.push import PushWriter

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise ConfigError("WATERNET_DATABASE_URL is required to serve the API")
    url = settings.database_url
    # one pool per process: WATERNET_DB_POOL_MAX bounds every connection the process opens
    # (the push writer's one included: see waternet.db.connect)
    pool = make_async_pool(url, max_size=api_pool_size(settings.db_pool_max))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        log.info("api started", extra={"version": __version__})
        try:
            yield
        finally:
            push_writer.close()
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
    # the NB-IoT push endpoints' writer: one per process, its connection opened on first push
    push_writer = PushWriter(settings)
    app.state.push_writer = push_writer
    errors.install(app)
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from waternet.auth.router import router as auth_router
    from waternet.gis.router import router as gis_router
    from waternet.ingest.router import router as telemetry_router
    from waternet.isolation.router import router as isolation_router
    from waternet.network.router import router as network_router
    from waternet.sensors.router import router as sensors_router
    from waternet.timeseries.router import router as query_router
    from waternet.web.router import router as web_router

    for router in (
        health.router,
        auth_router,
        sensors_router,
        telemetry_router,
        query_router,
        network_router,
        gis_router,
        isolation_router,
        web_router,
    ):
        app.include_router(router)
