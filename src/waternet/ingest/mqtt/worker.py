"""The MQTT ingest worker: a QoS 1 subscriber that acknowledges only what is durable.

The session (:mod:`waternet.ingest.mqtt.session`) reads the socket and puts every decoded
message into a bounded inbox (a full inbox blocks the reading thread, so the broker holds the
rest: back-pressure instead of memory growth). A writer thread takes batches by size and age,
makes them durable (commit or spool) and only then sends their PUBACKs, as one buffer.
QoS 1, persistent session (clean start off, session expiry), MQTT 5 shared subscription so N
workers split one stream; MQTT 3.1.1 fallback for brokers without v5 (the embedded demo broker).
The MQTT 5 Receive Maximum is the inbox size: the broker never has more unacknowledged messages
out to this worker than the inbox holds. A refused subscription is fatal (:attr:`failed`): the
worker stops rather than run without its topics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from waternet.config import MqttUrl
from waternet.ingest import metrics
from waternet.ingest.mqtt import wire as wire
from waternet.ingest.mqtt.inbox import Inbox
from waternet.ingest.mqtt.session import MqttSession
from waternet.ingest.pipeline import Incoming
from waternet.ingest.spool import SpoolFull
from waternet.ingest.writer import StoreResult, Writer

log = logging.getLogger(__name__)
TOPICS = ("waternet/v1/telemetry/+", "waternet/v1/batch/+", "waternet/v1/raw/+")
SESSION_EXPIRY_S = 7 * 24 * 3600


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
        self.queue = Inbox(queue_max)
        self.stats = WorkerStats()
        self.protocol = protocol
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed: Exception | None = None
        self.session = MqttSession(
            broker,
            client_id=client_id,
            protocol=protocol,
            session_expiry=session_expiry,
            on_publishes=self._on_publishes,
            on_connect=self._on_connect,
            on_fatal=self._on_fatal,
            receive_maximum=min(queue_max, 65535),
        )
        self.on_batch: Callable[[StoreResult], None] | None = None

    def _filters(self) -> list[str]:
        return [f"$share/{self.share_group}/{t}" if self.share_group else t for t in TOPICS]

    # -- session callbacks (reading thread) -------------------------------------------------------
    def _on_connect(self, session_present: bool, generation: int) -> None:
        if not self.session.v5 and self.share_group and self.protocol == "auto":
            self.share_group = None  # brokers without MQTT 5 here lack shared subscriptions
        self.session.subscribe(self._filters())
        log.info(
            "connected to broker",
            extra={"session_present": session_present, "generation": generation},
        )

    def _on_fatal(self, exc: Exception) -> None:
        self.failed = exc

    def _on_publishes(self, pubs: list[wire.Publish], generation: int) -> None:
        now = datetime.now(UTC)
        self.queue.put_many(
            [
                Incoming("mqtt", topic, payload, now, (generation, mid, qos))
                for topic, payload, mid, qos in pubs
            ],
            self._stop,
        )
        metrics.QUEUE_DEPTH.set(self.queue.qsize())

    # -- writer thread ----------------------------------------------------------------------------
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
            batch = self.queue.get_batch(self.batch_size, self.batch_age)
            metrics.QUEUE_DEPTH.set(self.queue.qsize())
            if not batch:
                if self.writer.spool.segments():
                    self.writer.replay()
                self.writer.maybe_flush_latest()
                continue
            result = self._store(batch)
            self.stats.add(result)
            # a message from an earlier connection is redelivered by the broker anyway
            by_gen: dict[int, list[int]] = {}
            for m in batch:
                gen, mid, qos = m.token
                if qos > 0:
                    by_gen.setdefault(gen, []).append(mid)
            for gen, mids in by_gen.items():
                self.session.ack(mids, gen)
            if self.on_batch is not None:
                self.on_batch(result)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, *, timeout: float = 15.0) -> None:
        """Connect and subscribe; raises ConnectionError (:class:`SubscriptionRefused` when the
        broker refuses a topic filter) if the worker cannot take messages."""
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._thread.start()
        self.session.connect_timeout = max(1.0, timeout / 2)
        try:
            self.session.start()
            deadline = time.monotonic() + timeout
            while not self.session.subscribed.wait(0.05) and self.failed is None:
                if time.monotonic() > deadline:
                    raise ConnectionError("the broker did not acknowledge the subscription")
            if self.failed is not None:
                raise self.failed
        except ConnectionError:
            self._stop.set()
            self.session.close()
            raise

    def stop(self, *, drain_timeout: float = 30.0) -> None:
        """Stop taking messages, drain the inbox (commit + ack), then disconnect."""
        self.session.unsubscribe(self._filters())
        time.sleep(0.2)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(drain_timeout)
        self.session.close()
        self.writer.close()

    def kill_connection(self) -> None:
        """Tests: drop the socket without a clean DISCONNECT (like a crash, minus the process)."""
        self.session.kill()
