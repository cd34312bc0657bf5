"""From received messages to rows and quarantine entries: parsing, registry look-up, validation.

Pure with respect to I/O: takes the registry snapshot and the clock, returns a :class:`Batch`.
The writer stores a batch in one transaction; acknowledgements follow the commit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from waternet.ingest import fastpath, metrics
from waternet.ingest.formats import mqtt as payloads
from waternet.ingest.formats import onenet, platforms
from waternet.ingest.registry import Registry
from waternet.ingest.validation import normalize, validate
from waternet.sensors.catalogue import Catalogue
from waternet.sensors.catalogue import default as default_catalogue

Row = tuple[int, datetime, float, int]
log = logging.getLogger(__name__)
FALLBACK_LOG_EVERY_S = 60.0  # a failing fast path logs at most this often (with its traceback)


@dataclass(slots=True)
class Incoming:
    """One received message: MQTT publish or HTTP push body."""

    source: str  # "mqtt" | "ctwing" | "onenet"
    topic: str  # MQTT topic, or the HTTP path for pushes
    payload: bytes
    received_at: datetime
    token: Any = None  # acknowledgement handle (MQTT mid, qos)


@dataclass(slots=True)
class QuarantineRow:
    source: str
    reason: str
    sensor_code: str | None
    topic: str
    detail: str
    payload: bytes  # capped
    payload_size: int
    fingerprint: bytes
    received_at: datetime


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    tokens: list[Any] = field(default_factory=list)
    messages: int = 0
    events: list[payloads.DeviceEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    max_payload: int = 262_144
    future_margin: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=35)
    meter_tz: tzinfo = UTC
    onenet_token: str | None = None


def fingerprint(msg: Incoming, index: int | None, reason: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in (msg.source.encode(), msg.topic.encode(), msg.payload, str(index).encode()):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    h.update(reason.encode())
    return h.digest()


def _parse(
    msg: Incoming, registry: Registry, policy: Policy, status_bits_for: Callable[[str], Any]
) -> payloads.ParseResult:
    if msg.source == "mqtt":
        code = msg.topic.rsplit("/", 1)[-1]
        return payloads.parse_message(
            msg.topic,
            msg.payload,
            max_bytes=policy.max_payload,
            received_at=msg.received_at,
            meter_tz=policy.meter_tz,
            status_bits=status_bits_for(code),
        )
    if msg.source == "ctwing":
        return platforms.parse_ctwing(
            msg.payload,
            max_bytes=policy.max_payload,
            lookup=registry.lookup_device,
            received_at=msg.received_at,
            meter_tz=policy.meter_tz,
            status_bits_for=status_bits_for,
        )
    if msg.source == "onenet":
        return onenet.parse_onenet(
            msg.payload,
            token=policy.onenet_token,
            max_bytes=policy.max_payload,
            lookup=registry.lookup_device,
            received_at=msg.received_at,
            meter_tz=policy.meter_tz,
            status_bits_for=status_bits_for,
        )
    return payloads.ParseResult(
        rejects=[payloads.Reject("bad_topic", f"unknown source {msg.source!r}", b"")]
    )


def process(
    messages: Iterable[Incoming],
    *,
    registry: Registry,
    policy: Policy,
    now: datetime,
    catalogue: Catalogue | None = None,
    fast: bool = True,
) -> Batch:
    """Parse and validate messages into one batch. Never raises on message content.

    With ``fast`` (the default), MQTT JSON messages whose every reading is accepted take
    :mod:`waternet.ingest.fastpath`; the rest, and every message with ``fast=False``, the
    general path. Both give the same rows."""
    cat = catalogue or default_catalogue()

    def status_bits_for(code: str) -> Any:
        return cat.status_bits(registry.model_of.get(code))

    batch = Batch()
    table = registry.fast
    lo, hi = now - policy.max_age, now + policy.future_margin
    for msg in messages:
        batch.messages += 1
        if msg.token is not None:
            batch.tokens.append(msg.token)
        if fast and msg.source == "mqtt":
            try:
                quick = fastpath.rows(
                    msg.topic, msg.payload, table, lo=lo, hi=hi, max_payload=policy.max_payload
                )
            except Exception:  # a bug must not crash the worker: the general path decides
                _fast_path_failed(msg)
                quick = None
            if quick is not None:
                batch.rows.extend(quick)
                continue
        result = _parse(msg, registry, policy, status_bits_for)
        batch.events.extend(result.events)
        for rej in result.rejects:
            batch.quarantine.append(
                quarantine_row(msg, rej.reason, rej.detail, rej.sensor_code, rej.index)
            )
        for i, reading in enumerate(result.readings):
            entry = registry.by_code.get(reading.sensor_code)
            spec = entry[1] if entry else None
            reason = validate(
                reading,
                spec,
                now=now,
                future_margin=policy.future_margin,
                max_age=policy.max_age,
                catalogue=cat,
            )
            if reason is not None or entry is None:
                detail = f"{reason}: value={reading.value!r} ts={reading.ts.isoformat()}"
                batch.quarantine.append(
                    quarantine_row(msg, str(reason), detail, reading.sensor_code, 10_000 + i)
                )
                continue
            if reading.unit is None or reading.unit == entry[1].unit:
                value = reading.value  # already canonical (what normalize returns, cheaper)
            else:
                value = normalize(reading, entry[1], cat).value
            batch.rows.append((entry[0], reading.ts, value, reading.quality))
    return batch


@dataclass
class LogLimit:
    """At most one log record every ``every_s`` seconds; counts the records left out."""

    every_s: float
    last: float | None = None
    unlogged: int = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if self.last is not None and now - self.last < self.every_s:
            self.unlogged += 1
            return False
        self.last = now
        return True


# the first failure is logged with its traceback, then at most one a minute (the counter counts
# every one)
FALLBACK_LOG = LogLimit(FALLBACK_LOG_EVERY_S)


def _fast_path_failed(msg: Incoming) -> None:
    metrics.FASTPATH_FALLBACKS.inc()
    if not FALLBACK_LOG.allow():
        return
    log.exception(
        "ingest fast path failed; the general path takes the message",
        extra={"topic": msg.topic[:200], "not_logged_since_last": FALLBACK_LOG.unlogged},
    )
    FALLBACK_LOG.unlogged = 0


def quarantine_row(
    msg: Incoming, reason: str, detail: str, code: str | None, index: int | None
) -> QuarantineRow:
    return QuarantineRow(
        source=msg.source,
        reason=str(reason),
        sensor_code=code,
        topic=msg.topic[:300],
        detail=detail[:500],
        payload=payloads.cap(msg.payload),
        payload_size=len(msg.payload),
        fingerprint=fingerprint(msg, index, str(reason)),
        received_at=msg.received_at,
    )
