"""Test services: real ones when WATERNET_TEST_* URLs are set, embedded ones otherwise.

With WATERNET_REQUIRE_SERVICES=1 a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from waternet.db import migrate


def required() -> bool:
    return os.environ.get("WATERNET_REQUIRE_SERVICES", "") in ("1", "true", "yes")


def unavailable(what: str, why: object) -> None:
    msg = f"{what} unavailable: {why}"
    if required():
        pytest.fail(msg + " (WATERNET_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (works for host and socket URLs)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@dataclass
class PgServer:
    admin_url: str
    embedded: object | None = None
    _templates: dict[str, str] | None = None

    def timescaledb_ready(self) -> bool:
        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pg_available_extensions WHERE name='timescaledb'),"
                " current_setting('shared_preload_libraries', true)"
            ).fetchone()
        assert row is not None
        return bool(row[0]) and "timescaledb" in (row[1] or "")

    def modes(self) -> list[str]:
        """Storage modes this server can run: always postgres, plus timescaledb if installed."""
        return ["timescaledb", "postgres"] if self.timescaledb_ready() else ["postgres"]

    def create_db(self, *, template: str | None = None) -> str:
        name = f"wn_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            tmpl = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
        return name

    def drop_db(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        return with_database(self.admin_url, name)

    def template(self, mode: str) -> str:
        """A migrated database used as a template, made once per mode and session."""
        self._templates = self._templates or {}
        if mode not in self._templates:
            name = self.create_db()
            migrate.upgrade(self.url(name), storage_mode=mode)
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            self._templates[mode] = name
        return self._templates[mode]

    def cleanup(self) -> None:
        for name in (self._templates or {}).values():
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            self.drop_db(name)

    @contextmanager
    def migrated_db(self, mode: str = "auto") -> Iterator[str]:
        if mode == "auto":
            mode = self.modes()[0]
        name = self.create_db(template=self.template(mode))
        try:
            yield self.url(name)
        finally:
            self.drop_db(name)


def start_pg(tmp_root: Path) -> PgServer:
    url = os.environ.get("WATERNET_TEST_DATABASE_URL")
    if url:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            unavailable("PostgreSQL at WATERNET_TEST_DATABASE_URL", exc)
        return PgServer(admin_url=url)
    try:
        from waternet.demo.embedded import start_postgres

        emb = start_postgres(tmp_root, database="postgres")
    except Exception as exc:
        unavailable("embedded PostgreSQL", exc)
        raise
    return PgServer(admin_url=emb.url, embedded=emb)


class ThreadBroker:
    """An amqtt broker on its own event loop thread (when no test broker URL is given)."""

    def __init__(self) -> None:
        from waternet.demo.embedded import EmbeddedBroker

        self.broker = EmbeddedBroker(port=0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.broker.start(), self.loop).result(30)

    @property
    def url(self) -> str:
        return self.broker.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class TestBroker:
    url: str
    kind: str  # "external" | "mosquitto" | "amqtt"
    handle: object | None = None

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.close() if self.kind == "mosquitto" else self.handle.stop()  # type: ignore[attr-defined]


def start_mqtt() -> TestBroker:
    """The test broker: WATERNET_TEST_MQTT_URL; else a private Mosquitto with waternet's broker
    configuration when the binary is installed; else the embedded amqtt broker."""
    url = os.environ.get("WATERNET_TEST_MQTT_URL")
    if url:
        import socket

        from waternet.config import MqttUrl

        m = MqttUrl(url)
        try:
            socket.create_connection((m.host, m.port), timeout=5).close()
        except OSError as exc:
            unavailable("MQTT broker at WATERNET_TEST_MQTT_URL", exc)
        return TestBroker(url, "external")
    import shutil

    if shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"):
        from tests.support.broker import Mosquitto

        mosq = Mosquitto()
        mosq.start()
        return TestBroker(mosq.url, "mosquitto", mosq)
    try:
        broker = ThreadBroker()
    except Exception as exc:
        unavailable("embedded MQTT broker", exc)
        raise
    return TestBroker(broker.url, "amqtt", broker)
