"""Helpers for ingest tests: sensors, a publisher that confirms delivery, a worker, DB counts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from waternet.config import MqttUrl, load_settings
from waternet.ingest import service
from waternet.ingest.mqtt.worker import IngestWorker
from waternet.sensors import service as sensors_service


def register(url: str, codes: list[str], imeis: dict[str, str] | None = None) -> None:
    imeis = imeis or {}
    sensors_service.register_sensors(url, [{"code": c, "imei": imeis.get(c)} for c in codes])


class Publisher:
    """QoS 1 publisher that waits until the broker acknowledged every message."""

    def __init__(self, mqtt_url: str) -> None:
        m = MqttUrl(mqtt_url)
        for v5 in (True, False):  # MQTT 5 where the broker has it (the embedded one has not)
            connected = threading.Event()
            self.client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
                protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            )
            self.client.on_connect = lambda *a, ev=connected: (
                ev.set() if not a[3].is_failure else None
            )
            self.client.max_inflight_messages_set(500)
            self.client.max_queued_messages_set(0)
            self.client.connect(m.host, m.port)
            self.client.loop_start()
            if connected.wait(5):
                break
            self.client.loop_stop()
            self.client.disconnect()
        else:
            raise AssertionError(f"cannot connect to {mqtt_url}")
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=qos))

    def flush(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for info in self.infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish"
        self.infos.clear()

    def close(self) -> None:
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()


def make_worker(
    db_url: str,
    mqtt_url: str,
    state_dir: Path,
    *,
    client_id: str | None = None,
    group: str | None = "",
    batch_size: int = 2000,
    **settings: Any,
) -> IngestWorker:
    s = load_settings(database_url=db_url, mqtt_url=mqtt_url, state_dir=str(state_dir), **settings)
    cid = client_id or f"test-ingest-{uuid.uuid4().hex[:8]}"
    assert s.mqtt is not None
    return IngestWorker(
        broker=s.mqtt,
        writer=service.make_writer(s, name=cid),
        client_id=cid,
        share_group=f"g{uuid.uuid4().hex[:8]}" if group == "" else group,
        batch_size=batch_size,
        batch_ms=20,
        queue_max=5000,
        session_expiry=120,
    )


@contextmanager
def running(worker: IngestWorker) -> Iterator[IngestWorker]:
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def counts(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        reasons = dict(
            conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall()
        )
    assert stored is not None
    return {"stored": int(stored[0]), "quarantine": {k: int(v) for k, v in reasons.items()}}


def wait_until(pred: Callable[[], bool], timeout: float = 60.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every)
    return pred()


def total(url: str) -> int:
    c = counts(url)
    return int(c["stored"]) + sum(c["quarantine"].values())


class TcpProxy:
    """A loopback TCP proxy that can cut every connection (a database outage, seen from the
    worker) without touching the database server the other tests use."""

    def __init__(self, target_host: str, target_port: int, *, unix: str | None = None) -> None:
        import socket

        self.target = (target_host, target_port)
        self.unix = unix
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.up = True
        self._conns: list[Any] = []
        self._frozen: set[int] = set()  # ids of sockets whose traffic is dropped
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                if self.unix:
                    upstream = socket.socket(socket.AF_UNIX)
                    upstream.connect(self.unix)
                else:
                    upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @classmethod
    def to_unix(cls, path: str) -> TcpProxy:
        return cls("", 0, unix=path)

    def _pipe(self, a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                if id(a) not in self._frozen:
                    b.sendall(data)
        except OSError:
            pass
        finally:
            # a frozen link passes nothing on, not even the close: the peer sees silence
            ends = (a,) if self._frozen & {id(a), id(b)} else (a, b)
            for s in ends:
                with suppress(OSError):
                    s.close()

    def cut(self) -> None:
        import socket

        self.up = False
        with self._lock:
            for s in self._conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._conns.clear()

    def freeze(self) -> None:
        """Black-hole the open connections (a half-open link: no error, no FIN, no data);
        new connections work."""
        with self._lock:
            self._frozen.update(id(s) for s in self._conns)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.sock.close()
