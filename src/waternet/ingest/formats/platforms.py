"""NB-IoT platform pushes: the shared parsing helpers and CTWing/AEP (see
sensors/nbiot-platforms.md); OneNET is in ``waternet.ingest.formats.onenet``.

Parsers turn one HTTP push body into readings, rejects and device events (like
``payloads.parse_message``) and never raise. Devices are keyed by IMEI (or the platform's device
id); ``lookup`` maps that key to a sensor code. Also: the constant-time signature compare, and
the encoders the simulators use to build pushes. Pure code: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from waternet.ingest.formats.mqtt import (
    BadInput,
    DeviceEvent,
    ParseResult,
    Reason,
    Reject,
    cap,
    frame_readings,
    parse_ts,
)
from waternet.sensors.models import StatusBits

Lookup = Mapping[str, str] | Callable[[str], str | None]
StatusBitsFor = Callable[[str], StatusBits | None]


def resolver(lookup: Lookup) -> Callable[[str], str | None]:
    """``lookup`` (a mapping or a function) as a function from device key to sensor code."""
    if isinstance(lookup, Mapping):
        return lambda key: lookup.get(key)
    return lookup


def epoch_ms(ts: datetime | int) -> int:
    """Epoch milliseconds of an aware datetime (an int is taken as already in ms)."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("ts must be timezone-aware")
        return round(ts.timestamp() * 1000)
    return int(ts)


def loose_ts(value: Any) -> datetime | None:
    """``parse_ts`` of a platform timestamp, or None when it is missing or unreadable."""
    try:
        return parse_ts(value)
    except BadInput:
        return None


def signature_matches(expected: str, received: object) -> bool:
    """Constant-time compare. A '+' turned into ' ' by URL decoding is put back first."""
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(
        expected.encode("ascii"), received.replace(" ", "+").encode("utf-8", "replace")
    )


# --- parsers -----------------------------------------------------------------------------------


def device_frame(
    data: bytes,
    key: str,
    *,
    resolve: Callable[[str], str | None],
    source: str,
    ts: datetime | None,
    meter_tz: tzinfo,
    status_bits_for: StatusBitsFor | None,
    index: int | None = None,
    alt_key: str | None = None,
) -> ParseResult:
    """Readings of one meter frame from device ``key`` (else ``alt_key``); an unknown device is
    a reject. ``index`` (an item in a multi-message push) is stamped on the rejects."""
    code = resolve(key) or (resolve(alt_key) if alt_key else None)
    if code is None:
        detail = f"no sensor for device {key[:40]}"
        return ParseResult(
            rejects=[Reject(Reason.UNKNOWN_DEVICE, detail, cap(data), None, index, source)]
        )
    bits = status_bits_for(code) if status_bits_for else None
    result = frame_readings(
        data, sensor_code=code, source=source, received_at=ts, meter_tz=meter_tz, status_bits=bits
    )
    if index is not None:
        result.rejects = [
            Reject(r.reason, r.detail, r.raw, r.sensor_code, index, r.source)
            for r in result.rejects
        ]
    return result


def guard(
    body: Any, max_bytes: int, source: str, work: Callable[[bytes], ParseResult]
) -> ParseResult:
    """Run ``work`` on a push body after the type and size checks, turning ``BadInput`` and any
    other exception into a reject: what makes the parsers never raise."""
    raw = body if isinstance(body, bytes) else b""
    try:
        if not isinstance(body, bytes | bytearray | memoryview):
            raise BadInput(Reason.BAD_ENVELOPE, "body must be bytes")
        raw = bytes(body)
        if len(raw) > max_bytes:
            raise BadInput(Reason.OVERSIZED, f"{len(raw)} bytes > limit {max_bytes}")
        return work(raw)
    except BadInput as bad:
        return ParseResult(rejects=[Reject(bad.reason, bad.detail, cap(raw), source=source)])
    except Exception as exc:  # never crash the endpoint on input
        detail = f"{type(exc).__name__}: {exc}"[:200]
        return ParseResult(rejects=[Reject(Reason.INTERNAL_ERROR, detail, cap(raw), source=source)])


def parse_ctwing(
    body: bytes,
    *,
    max_bytes: int,
    lookup: Lookup,
    received_at: datetime | None = None,
    meter_tz: tzinfo = UTC,
    status_bits_for: StatusBitsFor | None = None,
) -> ParseResult:
    """One CTWing/AEP subscription push. dataReport: payload.APPdata (base64) is a CJ/T 188 or
    WN1 frame; the device is looked up by IMEI, then by deviceId. Online/offline, event and
    command-response messages become ``DeviceEvent``s. Never raises."""
    source = "ctwing"
    resolve = resolver(lookup)

    def work(raw: bytes) -> ParseResult:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadInput(Reason.MALFORMED_JSON, "push body is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("messageType"), str):
            raise BadInput(Reason.BAD_ENVELOPE, "push needs a string messageType")
        kind = doc["messageType"]
        device_id = str(doc.get("deviceId", ""))
        imei = str(doc.get("IMEI") or doc.get("imei") or "")
        ts = loose_ts(doc.get("timestamp")) or received_at
        device = resolve(imei) if imei else None
        device = device or (resolve(device_id) if device_id else None) or f"ctwing:{device_id}"
        if kind == "dataReport":
            payload = doc.get("payload")
            app = payload.get("APPdata") if isinstance(payload, dict) else None
            if not isinstance(app, str):
                raise BadInput(
                    Reason.BAD_ENVELOPE,
                    "dataReport without payload.APPdata (profile-mode products are not supported)",
                )
            try:
                frame = base64.b64decode(app, validate=True)
            except (binascii.Error, ValueError):
                raise BadInput(Reason.BAD_ENCODING, "APPdata is not base64") from None
            return device_frame(
                frame,
                imei or device_id,
                resolve=resolve,
                source=source,
                ts=ts,
                meter_tz=meter_tz,
                status_bits_for=status_bits_for,
                alt_key=device_id,
            )
        when = ts or datetime.now(UTC)
        if kind == "deviceOnlineOfflineReport":
            state = "online" if doc.get("eventType") == 1 else "offline"
            return ParseResult(
                events=[DeviceEvent(device, when, state, {"deviceId": device_id}, source)]
            )
        if kind in ("eventReport", "commandResponse"):
            data = {
                k: doc.get(k)
                for k in ("serviceId", "eventType", "eventContent", "taskId", "result")
                if k in doc
            }
            event_kind = "event" if kind == "eventReport" else "command_response"
            return ParseResult(events=[DeviceEvent(device, when, event_kind, data, source)])
        raise BadInput(Reason.BAD_ENVELOPE, f"unsupported messageType {kind[:40]!r}")

    return guard(body, max_bytes, source, work)


# --- encoders for the simulators ---------------------------------------------------------------


def ctwing_push(
    *,
    imei: str,
    device_id: str,
    frame: bytes,
    ts: datetime | int,
    product_id: str = "10000000",
    tenant_id: str = "10000000",
) -> dict[str, Any]:
    """A CTWing dataReport push carrying ``frame`` (shape as the platform sends it)."""
    return {
        "upPacketSN": "",
        "upDataSN": "",
        "topic": "v1/up/ad",
        "timestamp": epoch_ms(ts),
        "tenantId": tenant_id,
        "serviceId": "",
        "protocol": "lwm2m",
        "productId": product_id,
        "payload": {"APPdata": base64.b64encode(frame).decode("ascii")},
        "messageType": "dataReport",
        "deviceType": "",
        "deviceId": device_id,
        "assocAssetId": "",
        "IMSI": "undefined",
        "IMEI": imei,
    }


def push_body(push: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a push built by ``ctwing_push`` or ``onenet.onenet_push`` (what
    the simulators should POST)."""
    return json.dumps(push, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
