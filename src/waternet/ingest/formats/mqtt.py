"""MQTT payload parsing: topic + bytes -> readings and rejects (topic scheme: sensors/mqtt.md).

``parse_message`` never raises: every problem becomes a ``Reject`` with a stable reason code, and
a bad reading inside a batch rejects that reading only. Pure code: no I/O, no registry look-ups
(validation against the registry is ``waternet.ingest.validation``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from waternet.errors import DecodeError
from waternet.ingest import codecs
from waternet.ingest.codecs import cjt188, wnframe
from waternet.sensors import codes as sensorcode
from waternet.sensors.models import StatusBits

RAW_CAP = 1024  # bytes of raw payload kept with a reject
TOPIC_PREFIX = "waternet/v1/"
MAX_QUALITY = 32767
_GATEWAY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class Reason(StrEnum):
    """Parse-time reject reasons. Frame decoders add their own (``DecodeError.reason``):
    bad_frame, bad_length, bad_checksum, bad_crc, bad_bcd, bad_time, bad_unit, unsupported_type,
    unsupported_control, unsupported_di, unsupported_version, meter_error."""

    OVERSIZED = "oversized"
    BAD_TOPIC = "bad_topic"
    BAD_SENSOR_CODE = "bad_sensor_code"
    MALFORMED_JSON = "malformed_json"
    BAD_SCHEMA = "bad_schema"
    BAD_VALUE = "bad_value"
    NAN = "nan"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_QUALITY = "bad_quality"
    UNKNOWN_FRAME = "unknown_frame"
    MISSING_VALUE = "missing_value"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_SIGNATURE = "bad_signature"
    BAD_ENVELOPE = "bad_envelope"
    BAD_ENCODING = "bad_encoding"
    UNKNOWN_DEVICE = "unknown_device"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class RawReading:
    sensor_code: str
    ts: datetime  # aware, UTC
    value: float
    quality: int = 0  # 0 = good
    source: str = ""
    unit: str | None = None  # as sent; None = the sensor's canonical unit


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str
    detail: str
    raw: bytes  # capped at RAW_CAP
    sensor_code: str | None = None
    index: int | None = None  # position inside a batch or frame
    source: str = ""


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Non-reading information: meter status/health, platform online/offline, events."""

    device: str  # sensor code when known, else the platform's device key
    ts: datetime
    kind: str  # "status" | "health" | "online" | "offline" | "event" | "command_response"
    data: dict[str, Any]
    source: str = ""


@dataclass(slots=True)
class ParseResult:
    readings: list[RawReading] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.readings.extend(other.readings)
        self.rejects.extend(other.rejects)
        self.events.extend(other.events)


class BadInput(DecodeError):
    """A payload refused with a reject ``reason``: carries it out of a helper. The parsers of
    ``ingest.formats`` turn it into a ``Reject`` (never raised past them)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)
        self.detail = detail


def cap(raw: bytes | str | None) -> bytes:
    if raw is None:
        return b""
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
    return data[:RAW_CAP]


def _dump(item: Any) -> bytes:
    try:
        return cap(json.dumps(item, default=str, ensure_ascii=False))
    except (ValueError, TypeError, RecursionError):
        return cap(repr(item))


def parse_ts(value: Any) -> datetime:
    """``ts`` field: ISO-8601 text with a UTC offset, or epoch milliseconds -> aware UTC."""
    if isinstance(value, bool) or value is None:
        raise BadInput(Reason.BAD_TIMESTAMP, "ts missing or not a string/number")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value <= _MAX_MS:
            raise BadInput(Reason.BAD_TIMESTAMP, "epoch ms out of range")
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or len(value) > 64:
        raise BadInput(Reason.BAD_TIMESTAMP, "ts must be ISO-8601 text or epoch ms")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(Reason.BAD_TIMESTAMP, f"not ISO-8601: {value[:40]!r}") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise BadInput(Reason.BAD_TIMESTAMP, "ISO-8601 ts must carry a UTC offset")
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadInput(Reason.BAD_TIMESTAMP, "ts out of range") from None


def parse_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(Reason.BAD_VALUE, "v must be a JSON number")
    try:
        number = float(value)
    except OverflowError:
        raise BadInput(Reason.NAN, "v is too large to be finite") from None
    if not math.isfinite(number):
        raise BadInput(Reason.NAN, "v is NaN or infinite")
    return number


def _reading(obj: Any, code: str, source: str, ts_key: str = "ts") -> RawReading:
    if not isinstance(obj, dict):
        raise BadInput(Reason.BAD_SCHEMA, "reading must be a JSON object")
    if "v" not in obj:
        raise BadInput(Reason.BAD_SCHEMA, "reading lacks 'v'")
    value = parse_number(obj["v"])
    ts = parse_ts(obj.get(ts_key))
    quality = obj.get("q", 0)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= MAX_QUALITY:
        raise BadInput(Reason.BAD_QUALITY, f"q must be an integer 0..{MAX_QUALITY}")
    unit = obj.get("u")
    if unit is not None and (not isinstance(unit, str) or not 0 < len(unit) <= 16):
        raise BadInput(Reason.BAD_SCHEMA, "u must be a unit string of 1..16 characters")
    return RawReading(
        sensor_code=code, ts=ts, value=value, quality=quality, source=source, unit=unit
    )


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BadInput(Reason.MALFORMED_JSON, f"malformed JSON: {str(exc)[:120]}") from None


def _telemetry(code: str, payload: bytes, source: str) -> ParseResult:
    return ParseResult(readings=[_reading(_json(payload), code, source)])


def _batch(payload: bytes, source: str) -> ParseResult:
    doc = _json(payload)
    if not isinstance(doc, dict) or not isinstance(doc.get("readings"), list):
        raise BadInput(Reason.BAD_SCHEMA, 'batch must be {"readings": [...]}')
    result = ParseResult()
    for index, item in enumerate(doc["readings"]):
        code = item.get("s") if isinstance(item, dict) else None
        try:
            if not sensorcode.is_valid(code):
                raise BadInput(Reason.BAD_SENSOR_CODE, f"bad sensor code {str(code)[:40]!r}")
            assert isinstance(code, str)
            result.readings.append(_reading(item, code, source))
        except BadInput as bad:
            result.rejects.append(
                Reject(
                    reason=bad.reason,
                    detail=bad.detail,
                    raw=_dump(item),
                    sensor_code=code if sensorcode.is_valid(code) else None,
                    index=index,
                    source=source,
                )
            )
    return result


def frame_readings(
    frame: bytes,
    *,
    sensor_code: str,
    source: str,
    received_at: datetime | None = None,
    meter_tz: tzinfo = UTC,
    status_bits: StatusBits | None = None,
) -> ParseResult:
    """Readings from a binary meter frame (kind detected from its first bytes).

    CJ/T 188: one register reading (m3) at the meter's clock (``meter_tz``), or ``received_at``
    when the meter sends no time; WN1: one reading per interval register (litres -> m3).
    Frame errors become one reject with the decoder's reason. Never raises.
    """
    result = ParseResult()
    try:
        kind = codecs.detect(frame)
        if kind == "cjt188":
            meter = cjt188.decode(frame, status_bits=status_bits)
            ts = meter.meter_time_utc(meter_tz) or received_at
            if meter.volume_m3 is None:
                raise BadInput(Reason.MISSING_VALUE, "meter sent no current volume (FF)")
            if ts is None:
                raise BadInput(Reason.MISSING_TIMESTAMP, "meter sent no clock and no receive time")
            result.readings.append(
                RawReading(
                    sensor_code=sensor_code, ts=ts, value=meter.volume_m3, source=source, unit="m3"
                )
            )
            if meter.status is not None:
                result.events.append(
                    DeviceEvent(
                        sensor_code,
                        ts,
                        "status",
                        {
                            "status": meter.status,
                            "valve": meter.valve,
                            "battery_low": meter.battery_low,
                            **meter.flags,
                            "address": meter.address,
                        },
                        source,
                    )
                )
        elif kind == "wnframe":
            day = wnframe.decode(frame)
            for ts, litres in day.readings():
                result.readings.append(
                    RawReading(
                        sensor_code=sensor_code,
                        ts=ts,
                        value=litres / 1000,
                        source=source,
                        unit="m3",
                    )
                )
            last = day.readings()[-1][0] if day.readings() else day.start
            result.events.append(
                DeviceEvent(
                    sensor_code,
                    last,
                    "health",
                    {
                        "device_id": day.device_id,
                        "battery_mv": day.battery_mv,
                        "rsrp_dbm": day.rsrp_dbm,
                        "snr_db": day.snr_db,
                        "alarms": day.alarm_names(),
                    },
                    source,
                )
            )
        else:
            raise BadInput(Reason.UNKNOWN_FRAME, "neither a CJ/T 188 nor a WN1 frame")
    except DecodeError as exc:  # a codec's refusal, or our own BadInput
        result.rejects.append(
            Reject(exc.reason, exc.message, cap(frame), sensor_code, source=source)
        )
    except Exception as exc:  # defensive: a decoder bug must not crash the worker
        result = ParseResult(
            rejects=[
                Reject(
                    Reason.INTERNAL_ERROR,
                    f"{type(exc).__name__}: {exc}"[:200],
                    cap(frame),
                    sensor_code,
                    source=source,
                )
            ]
        )
    return result


def parse_message(
    topic: str,
    payload: bytes,
    *,
    max_bytes: int,
    received_at: datetime | None = None,
    meter_tz: tzinfo = UTC,
    status_bits: StatusBits | None = None,
) -> ParseResult:
    """Parse one MQTT message. Never raises; see sensors/mqtt.md for topics and reasons.

    ``received_at`` stamps raw meter frames that carry no clock; ``meter_tz`` is the time zone of
    meter clocks; ``status_bits`` the CJ/T 188 ST layout of the meter model (standard if None).
    """
    code: str | None = None
    source = "mqtt"
    try:
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise BadInput(Reason.BAD_SCHEMA, "payload must be bytes")
        payload = bytes(payload)
        if len(payload) > max_bytes:
            raise BadInput(Reason.OVERSIZED, f"{len(payload)} bytes > limit {max_bytes}")
        if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX):
            raise BadInput(Reason.BAD_TOPIC, f"topic must start with {TOPIC_PREFIX}")
        parts = topic.split("/")
        if len(parts) != 4:
            raise BadInput(Reason.BAD_TOPIC, "topic must be waternet/v1/<type>/<id>")
        channel, ident = parts[2], parts[3]
        source = f"mqtt/{channel}"
        if channel == "batch":
            if not _GATEWAY.fullmatch(ident):
                raise BadInput(Reason.BAD_TOPIC, "gateway id must be 1-64 of A-Za-z0-9_.:-")
            return _batch(payload, f"mqtt/batch/{ident}")
        if channel not in ("telemetry", "raw"):
            raise BadInput(Reason.BAD_TOPIC, f"unknown topic type {channel[:20]!r}")
        if not sensorcode.is_valid(ident):
            raise BadInput(Reason.BAD_SENSOR_CODE, f"bad sensor code {ident[:40]!r}")
        code = ident
        if channel == "telemetry":
            return _telemetry(code, payload, source)
        return frame_readings(
            payload,
            sensor_code=code,
            source=source,
            received_at=received_at,
            meter_tz=meter_tz,
            status_bits=status_bits,
        )
    except BadInput as bad:
        return ParseResult(
            rejects=[
                Reject(
                    bad.reason,
                    bad.detail,
                    cap(payload) if isinstance(payload, bytes) else b"",
                    code,
                    source=source,
                )
            ]
        )
    except Exception as exc:  # the worker must never crash on input
        detail = f"{type(exc).__name__}: {exc}"[:200]
        return ParseResult(
            rejects=[Reject(Reason.INTERNAL_ERROR, detail, b"", code, source=source)]
        )
