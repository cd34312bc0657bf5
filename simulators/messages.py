"""Messages of the simulated fleet and their encoders (payload formats: sensors/ and issue 5).

A ``Message`` is what one device (or gateway, or carrier platform) sends once: a transport
("mqtt" or "http"), a target (MQTT topic, or the platform name for HTTP pushes: "ctwing",
"onenet"), the payload bytes, the simulated send time, and the ground truth: the readings it
carries with the outcome ingest is expected to give each one (``Expect``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from waternet.ingest.codecs import cjt188, wnframe

STORED = "stored"
QUARANTINED = "quarantined"
DUPLICATE = "duplicate"
OUTCOMES = (STORED, QUARANTINED, DUPLICATE)
DEFAULT_METER_TZ = "Asia/Shanghai"  # waternet's default WATERNET_TIMEZONE


@dataclass(frozen=True, slots=True)
class Expect:
    """The expected fate of one reading (or of a whole undecodable message: ``ts_ms=None``)."""

    code: str | None
    ts_ms: int | None
    value: float | None
    outcome: str
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "s": self.code,
            "ts": self.ts_ms,
            "v": self.value,
            "outcome": self.outcome,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Message:
    seq: int  # position in the stream (0, 1, 2 ...)
    send_at: float  # simulated epoch seconds
    transport: str  # "mqtt" | "http"
    kind: str  # "telemetry" | "batch" | "raw" | "ctwing" | "onenet"
    target: str  # MQTT topic, or the platform for HTTP ("ctwing" | "onenet")
    payload: bytes
    expect: tuple[Expect, ...] = ()
    tags: tuple[str, ...] = ()  # ground-truth tags, e.g. "fault:duplicate", "burst"
    qos: int = 1
    readings: int = 0  # readings carried (also when the message is unreadable)

    def as_record(self) -> dict[str, Any]:
        """One JSON line of the expected-outcome file."""
        return {
            "seq": self.seq,
            "send_at": round(self.send_at, 3),
            "transport": self.transport,
            "kind": self.kind,
            "target": self.target,
            "bytes": len(self.payload),
            "readings": self.readings,
            "sha1": hashlib.sha1(self.payload).hexdigest()[:16],
            "tags": list(self.tags),
            "expect": [e.as_dict() for e in self.expect],
        }


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2025-01-01T00:01:00.000Z."""
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def num(v: float) -> float:
    """The value as written in JSON (shortest float repr after rounding to 6 decimals)."""
    return float(round(float(v), 6))


def ts_field(ts_ms: int, *, iso: bool) -> str | int:
    return iso_ms(ts_ms) if iso else ts_ms


def encode_telemetry(*, ts_ms: int, value: float, iso: bool, quality: int = 0) -> bytes:
    return json.dumps(
        {"ts": ts_field(ts_ms, iso=iso), "v": num(value), "q": quality}, separators=(",", ":")
    ).encode()


def encode_batch(readings: list[tuple[str, int, float, bool]]) -> bytes:
    """readings: (code, ts_ms, value, iso)."""
    items = [{"s": c, "ts": ts_field(t, iso=iso), "v": num(v), "q": 0} for c, t, v, iso in readings]
    return json.dumps({"readings": items}, separators=(",", ":")).encode()


def encode_cjt188(
    *,
    address: str,
    volume_m3: float,
    ts_ms: int,
    di_order: str,
    preamble: bool,
    meter_tz: str = DEFAULT_METER_TZ,
) -> bytes:
    """A CJ/T 188 901F read reply; the meter clock is the reading time as local wall-clock time
    in ``meter_tz`` with no zone (CJ/T 188 meters keep local time; ingest reads the clock in the
    utility's zone, ``WATERNET_TIMEZONE``)."""
    return cjt188.encode_read_reply(
        address=address,
        volume_m3=volume_m3,
        settlement_m3=None,
        meter_time=datetime.fromtimestamp(ts_ms // 1000, UTC),
        meter_tz=ZoneInfo(meter_tz),
        status=0,
        di_order=di_order,
        preamble=preamble,
    )


def cjt188_value(volume_m3: float) -> float:
    """The register as ingest will store it from a CJ/T 188 frame (0.01 m3 BCD)."""
    return round(volume_m3 * 100) / 100


def encode_wn1(
    *,
    imei: str,
    start_s: int,
    interval_min: int,
    registers_m3: list[float],
    battery_mv: int,
    rsrp_dbm: int,
    snr_db: int,
    alarms: int = 0,
) -> bytes:
    frame = wnframe.WnFrame(
        device_id=imei,
        start=datetime.fromtimestamp(start_s, UTC),
        interval_min=interval_min,
        registers_l=tuple(wn1_litres(v) for v in registers_m3),
        battery_mv=battery_mv,
        rsrp_dbm=rsrp_dbm,
        snr_db=snr_db,
        alarms=alarms,
    )
    return wnframe.encode(frame)


def wn1_litres(volume_m3: float) -> int:
    return round(volume_m3 * 1000)


def ctwing_body(*, imei: str, device_id: str, frame: bytes, ts_ms: int) -> bytes:
    """A CTWing/AEP dataReport push carrying ``frame`` (``waternet.ingest.formats.platforms``)."""
    from waternet.ingest.formats import platforms

    return platforms.push_body(
        platforms.ctwing_push(imei=imei, device_id=device_id, frame=frame, ts=ts_ms)
    )


def onenet_body(
    *, token: str, imei: str, dev_id: str, frame: bytes, ts_ms: int, nonce: str, new_format: bool
) -> bytes:
    """A OneNET data push (old envelope, or the later SDK's with ``msg`` as JSON text)."""
    from waternet.ingest.formats import onenet, platforms

    return platforms.push_body(
        onenet.onenet_push(
            token=token,
            imei=imei,
            dev_id=dev_id,
            frame=frame,
            ts=ts_ms,
            nonce=nonce,
            new_format=new_format,
        )
    )


@dataclass
class Draft:
    """A message under construction (mutable): readings and faults are decided before the
    ground truth is worked out by ``simulators.faults.expected_outcomes``."""

    send_at: float
    kind: str
    target: str
    readings: list[Reading] = field(default_factory=list)
    payload: bytes = b""
    broken: str | None = None  # reason if the whole message is unreadable
    tags: list[str] = field(default_factory=list)
    order: int = 0
    frame: bytes = b""  # NB-IoT: the meter frame inside the platform envelope
    wrap: Callable[[bytes], bytes] | None = None  # NB-IoT: frame -> envelope bytes

    @property
    def transport(self) -> str:
        return "http" if self.kind in ("ctwing", "onenet") else "mqtt"


@dataclass
class Reading:
    """One reading as the device sends it (``ts_ms`` is the device's clock, maybe skewed)."""

    code: str
    ts_ms: int
    value: float  # as ingest will decode it
    at_ms: int = 0  # true time the reading was taken (ts_ms may be skewed)
    known: bool = True  # registered sensor
    tags: list[str] = field(default_factory=list)
