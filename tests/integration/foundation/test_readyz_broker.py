"""/readyz checks the broker with an MQTT CONNECT / CONNACK / DISCONNECT exchange: the embedded
amqtt broker of the demo logs no error for it (a bare TCP connect and close made it log one per
probe), and a port that does not speak MQTT is not "ok"."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from waternet.demo.embedded import EmbeddedBroker


@pytest.fixture
def embedded_broker() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-amqtt", daemon=True)
    thread.start()
    broker = EmbeddedBroker(port=0)
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(30)
    try:
        yield broker.url
    finally:
        asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _client(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str) -> object:
    from fastapi.testclient import TestClient

    from waternet.api.app import create_app
    from waternet.config import reset_settings

    monkeypatch.setenv("WATERNET_MQTT_URL", url)
    reset_settings()
    return TestClient(create_app())


def test_readyz_against_the_embedded_broker_logs_no_error(
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    embedded_broker: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="amqtt")
    with _client(settings_env, monkeypatch, embedded_broker) as client:  # type: ignore[attr-defined]
        for _ in range(3):
            r = client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["checks"]["broker"] == "ok"
    errors = [
        rec
        for rec in caplog.records
        if rec.name.startswith("amqtt") and rec.levelno >= logging.ERROR
    ]
    assert errors == [], [rec.getMessage() for rec in errors]


def test_readyz_wants_an_mqtt_answer(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that accepts and says nothing is not a broker."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        with _client(settings_env, monkeypatch, f"mqtt://127.0.0.1:{port}") as client:  # type: ignore[attr-defined]
            r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["broker"] != "ok"
