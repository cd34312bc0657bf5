"""A migrated test database holding the small demo city, and an app serving the isolation API
and the map page on it (shared by the isolation API tests and the map browser test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from tests.support.services import PgServer

JWT_SECRET = "test-secret-" + "x" * 32


@contextmanager
def demo_city_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh migrated database with the small demo city imported as the active version."""
    from waternet.demo.city import build_demo_city
    from waternet.network import service

    with pg_server.migrated_db() as url:
        service.import_model(url, model=build_demo_city("small"), source="demo-city:small")
        yield url


def build_app(url: str, state_dir: Path) -> FastAPI:
    """``create_app`` plus the isolation and web routers when the factory does not add them."""
    from waternet.api.app import create_app
    from waternet.config import Settings
    from waternet.isolation.router import router as isolation_router
    from waternet.web.router import router as web_router

    settings = Settings(
        database_url=url, state_dir=state_dir, jwt_secret=JWT_SECRET, log_json=False
    )
    app = create_app(settings)
    paths = {getattr(r, "path", None) for r in app.routes}
    if "/api/v1/isolation/plans" not in paths:
        app.include_router(isolation_router)
    if "/" not in paths:
        app.include_router(web_router)
    return app


async def add_user(url: str, *, name: str, password: str, role: str) -> None:
    from waternet.auth import service
    from waternet.db.aconnect import aconnect

    async with aconnect(url) as conn:
        await service.add_user(conn, name=name, password=password, role=role)
