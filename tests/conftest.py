"""Shared fixtures. Services are real (or embedded when no URL is given), never mocked."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import PgServer, TestBroker, start_mqtt, start_pg, unavailable

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    # Not under pytest's tmp dir: pytest makes that 0700 for root, and the embedded server runs
    # as its own system user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="waternet-test-pg-"))
    root.chmod(0o755)
    server = start_pg(root)
    try:
        yield server
    finally:
        server.cleanup()
        if server.embedded is not None:
            server.embedded.stop()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db_url(pg_server: PgServer) -> Iterator[str]:
    """A freshly migrated database (default storage mode of the server), dropped afterwards."""
    with pg_server.migrated_db() as url:
        yield url


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[TestBroker]:
    broker = start_mqtt()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def mqtt_url(mqtt_broker: TestBroker) -> str:
    return mqtt_broker.url


@pytest.fixture
def session_broker_url(mqtt_broker: TestBroker) -> str:
    """A broker that keeps persistent sessions (redelivery after a client crash). The embedded
    amqtt broker does not redeliver reliably, so such tests need Mosquitto or a real broker."""
    if mqtt_broker.kind == "amqtt":
        unavailable("a broker with persistent sessions", "only the embedded amqtt broker is here")
    return mqtt_broker.url


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str
) -> Iterator[dict[str, str]]:
    """Environment for code that reads settings: a migrated database and a scratch state dir."""
    from waternet.config import reset_settings

    env = {
        "WATERNET_DATABASE_URL": db_url,
        "WATERNET_STATE_DIR": str(tmp_path / "state"),
        "WATERNET_JWT_SECRET": "test-secret-" + "x" * 32,
        "WATERNET_LOG_JSON": "false",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("WATERNET_MQTT_URL", raising=False)
    reset_settings()
    yield env
    reset_settings()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        "services: "
        + (
            "real (WATERNET_TEST_DATABASE_URL)"
            if os.environ.get("WATERNET_TEST_DATABASE_URL")
            else "embedded"
        )
        + (", required" if os.environ.get("WATERNET_REQUIRE_SERVICES") == "1" else "")
    ]


class Api:
    """A TestClient on a freshly migrated database, with a token per role on demand."""

    def __init__(self, client: object, db_url: str) -> None:
        self.client = client
        self.db_url = db_url
        self._tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self._tokens:
            import asyncio

            from waternet.auth import service
            from waternet.db.aconnect import aconnect

            name = f"user-{role}"

            async def add() -> None:
                async with aconnect(self.db_url) as conn:
                    await service.add_user(conn, name=name, password="password-" + role, role=role)

            asyncio.run(add())
            r = self.client.post(  # type: ignore[attr-defined]
                "/api/v1/auth/token", data={"username": name, "password": "password-" + role}
            )
            assert r.status_code == 200, r.text
            self._tokens[role] = r.json()["access_token"]
        return self._tokens[role]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@pytest.fixture
def api(settings_env: dict[str, str]) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from waternet.api.app import create_app

    app = create_app()
    with TestClient(app) as client:
        yield Api(client, settings_env["WATERNET_DATABASE_URL"])
