"""Fixtures: one database with the small demo city and one API client for the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.integration.isolation_api.demo_db import build_app, demo_city_database
from tests.support.services import PgServer


@pytest.fixture(scope="module")
def demo_url(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_city_database(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def iso_api(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    app = build_app(demo_url, tmp_path_factory.mktemp("state"))
    with TestClient(app) as client:
        yield Api(client, demo_url)


@pytest.fixture(scope="module")
def loaded(demo_url: str) -> Any:
    from waternet.network import service

    return service.load_active(demo_url)
