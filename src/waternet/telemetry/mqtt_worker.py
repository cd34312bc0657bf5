"""The MQTT ingest worker: paho-mqtt 2 with manual acknowledgement.

Messages go from paho's network thread into a bounded queue (a full queue blocks the network
thread, so the broker holds the rest: back-pressure instead of memory growth). A writer thread
takes batches by size and age, makes them durable (commit or spool) and only then sends PUBACK.
QoS 1, persistent session (clean_start=False, session expiry), MQTT 5 shared subscription so N
workers split one stream; MQTT 3.1.1 fallback for brokers without v5 (the embedded demo broker).
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from waternet.config import MqttUrl
from waternet.telemetry import metrics
from waternet.telemetry.pipeline import Incoming
from waternet.telemetry.spool import SpoolFull
from waternet.telemetry.writer import StoreResult, Writer

log = logging.getLogger(__name__)
TOPICS = ("waternet/v1/telemetry/+", "waternet/v1/batch/+", "waternet/v1/raw/+")
SESSION_EXPIRY_S = 7 * 24 * 3600
BATCH_PREFIX = "waternet/v1/batch/"
PUBACK = 0x40
_PUBACK = struct.Struct(">BBH")


@dataclass
class WorkerStats:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    spooled: int = 0
    batches: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, r: StoreResult) -> None:
        self.messages += r.messages
        self.stored += r.stored
        self.duplicates += r.duplicates
        self.quarantined += r.quarantined
        self.spooled += r.spooled
        self.batches += 1

    def as_dict(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "messages": self.messages,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "spooled": self.spooled,
            "batches": self.batches,
            "readings_per_s": round(self.stored / elapsed, 1),
        }


def _weight(m: Incoming) -> int:
    """Readings a message probably carries (cheap): every reading of a gateway batch is one
    JSON object, so count closing braces; single readings and frames count 1."""
    if m.topic.startswith(BATCH_PREFIX):
        return max(1, m.payload.count(b"}") - 1)
    return 1


def _ack_all(client: mqtt.Client, mids: list[int]) -> None:
    """PUBACK every message id. paho's ``ack`` queues one packet and wakes its network thread
    (two system calls) per message, which costs more than storing the reading: write the
    PUBACKs as one buffer instead (QoS 1 PUBACK: 0x40, remaining length 2, packet id; MQTT 5
    allows omitting the reason code on success). Falls back to ``ack`` if paho's internals
    differ from the version this was written against (2.x)."""
    if not mids:
        return
    queue_packet = getattr(client, "_packet_queue", None)
    if queue_packet is None or not hasattr(client, "_out_packet"):
        for mid in mids:
            client.ack(mid, 1)
        return
    buf = bytearray(4 * len(mids))
    for i, mid in enumerate(mids):
        buf[4 * i : 4 * i + 4] = _PUBACK.pack(0x40, 2, mid)
    queue_packet(PUBACK, bytes(buf), 0, 0)


class IngestWorker:
    def __init__(
        self,
        *,
        broker: MqttUrl,
        writer: Writer,
        client_id: str,
        share_group: str | None,
        batch_size: int = 5000,
        batch_ms: int = 50,
        queue_max: int = 20_000,
        protocol: str = "auto",
        session_expiry: int = SESSION_EXPIRY_S,
    ) -> None:
        self.broker = broker
        self.writer = writer
        self.client_id = client_id
        self.share_group = share_group
        self.batch_size = batch_size
        self.batch_age = batch_ms / 1000.0
        self.queue: queue.Queue[Incoming] = queue.Queue(maxsize=queue_max)
        self.stats = WorkerStats()
        self.protocol = protocol
        self.session_expiry = session_expiry
        self._generation = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._v5 = protocol in ("auto", "5")
        self.on_batch: Callable[[StoreResult], None] | None = None

    # -- paho callbacks (network thread) ------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused connection", extra={"reason": str(rc)})
            return
        self._generation += 1
        subs: list[tuple[str, Any]] = []
        for t in TOPICS:
            topic = f"$share/{self.share_group}/{t}" if self.share_group else t
            subs.append((topic, SubscribeOptions(qos=1) if self._v5 else 1))
        client.subscribe(subs)
        self._connected.set()
        log.info(
            "connected to broker",
            extra={
                "session_present": bool(getattr(flags, "session_present", False)),
                "generation": self._generation,
            },
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker, reconnecting", extra={"reason": str(rc)})

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = Incoming(
            source="mqtt",
            topic=msg.topic,
            payload=bytes(msg.payload),
            received_at=datetime.now(UTC),
            token=(self._generation, msg.mid, msg.qos),
        )
        self.queue.put(item)  # blocks when full: back-pressure to the broker
        metrics.QUEUE_DEPTH.set(self.queue.qsize())

    # -- writer thread ------------------------------------------------------------------------
    def _next_batch(self) -> list[Incoming]:
        """Up to ``batch_size`` readings (estimated per message: a gateway batch counts its
        readings, not 1) or ``batch_age`` seconds, whichever comes first."""
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        rows = _weight(first)
        deadline = time.monotonic() + self.batch_age
        while rows < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self.queue.get_nowait() if remaining <= 0 else self.queue.get(timeout=remaining)
                )
            except queue.Empty:
                break
            batch.append(item)
            rows += _weight(item)
        return batch

    def _store(self, batch: list[Incoming]) -> StoreResult:
        while True:
            try:
                return self.writer.store(batch)
            except SpoolFull:
                log.error("database down and spool full: holding messages unacknowledged")
                time.sleep(1.0)
                if self.writer.replay():
                    continue

    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            batch = self._next_batch()
            metrics.QUEUE_DEPTH.set(self.queue.qsize())
            if not batch:
                if self.writer.spool.segments():
                    self.writer.replay()
                self.writer.maybe_flush_latest()
                continue
            result = self._store(batch)
            self.stats.add(result)
            client = self._client
            gen = self._generation
            if client is not None:
                # a message from an earlier connection is redelivered by the broker anyway
                mids = [m.token[1] for m in batch if m.token[2] > 0 and m.token[0] == gen]
                _ack_all(client, mids)
            if self.on_batch is not None:
                self.on_batch(result)

    # -- lifecycle ----------------------------------------------------------------------------
    def _make_client(self, v5: bool) -> mqtt.Client:
        kwargs: dict[str, Any] = {
            "callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
            "client_id": self.client_id,
            "protocol": mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            "manual_ack": True,
        }
        if not v5:
            kwargs["clean_session"] = False
        client = mqtt.Client(**kwargs)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _connect(self, client: mqtt.Client, v5: bool) -> None:
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry
            props.ReceiveMaximum = 65535
            client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=30,
                clean_start=False,
                properties=props,
            )
        else:
            client.connect(self.broker.host, self.broker.port, keepalive=30)

    def start(self, *, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._thread.start()
        attempts = [True, False] if self.protocol == "auto" else [self.protocol == "5"]
        for v5 in attempts:
            self._v5 = v5
            if not v5 and self.protocol == "auto":
                self.share_group = None  # brokers without MQTT 5 here lack shared subscriptions
            client = self._make_client(v5)
            self._client = client
            try:
                self._connect(client, v5)
            except OSError as exc:
                raise ConnectionError(f"cannot reach MQTT broker {self.broker!r}: {exc}") from exc
            client.loop_start()
            if self._connected.wait(timeout / len(attempts)):
                return
            client.loop_stop()
            client.disconnect()
        raise ConnectionError(f"MQTT broker {self.broker!r} did not accept the connection")

    def stop(self, *, drain_timeout: float = 30.0) -> None:
        """Stop taking messages, drain the queue (commit + ack), then disconnect."""
        client = self._client
        if client is not None:
            for t in TOPICS:
                client.unsubscribe(f"$share/{self.share_group}/{t}" if self.share_group else t)
        time.sleep(0.2)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(drain_timeout)
        if client is not None:
            time.sleep(0.2)  # let the network thread send the last acknowledgements
            client.disconnect()
            client.loop_stop()
        self.writer.close()

    def kill_connection(self) -> None:
        """Tests: drop the socket without a clean DISCONNECT (like a crash, minus the process)."""
        if self._client is not None:
            sock = self._client.socket()
            if sock is not None:
                sock.close()
