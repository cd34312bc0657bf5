"""NB-IoT platform push envelopes: CTWing/AEP and OneNET (see sensors/nbiot-platforms.md).

Parsers turn one HTTP push body into readings, rejects and device events (like
``payloads.parse_message``) and never raise. Devices are keyed by IMEI (or the platform's device
id); ``lookup`` maps that key to a sensor code. Also: OneNET signature helpers and the encoders
the simulators use to build pushes. Pure code: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from waternet.ingest.formats.mqtt import (
    BadInput,
    DeviceEvent,
    ParseResult,
    RawReading,
    Reason,
    Reject,
    cap,
    frame_readings,
    parse_number,
    parse_ts,
)
from waternet.sensors.models import StatusBits

Lookup = Mapping[str, str] | Callable[[str], str | None]
StatusBitsFor = Callable[[str], StatusBits | None]
ONENET_NB_DATASTREAM = "3200_0_5750"  # LwM2M object 3200 (digital input) resource 5750, as used


def _resolver(lookup: Lookup) -> Callable[[str], str | None]:
    if isinstance(lookup, Mapping):
        return lambda key: lookup.get(key)
    return lookup


def _ms(ts: datetime | int) -> int:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("ts must be timezone-aware")
        return round(ts.timestamp() * 1000)
    return int(ts)


def _loose_ts(value: Any) -> datetime | None:
    try:
        return parse_ts(value)
    except BadInput:
        return None


# --- OneNET signatures -------------------------------------------------------------------------


def onenet_signature(*, token: str, nonce: str, msg: str) -> str:
    """base64(MD5(token + nonce + msg)), the OneNET URL-check and push signature."""
    digest = hashlib.md5((token + nonce + msg).encode("utf-8"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(expected: str, received: object) -> bool:
    """Constant-time compare. A '+' turned into ' ' by URL decoding is put back first."""
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(
        expected.encode("ascii"), received.replace(" ", "+").encode("utf-8", "replace")
    )


def onenet_verify_url(*, msg: str, nonce: str, signature: str, token: str) -> bool:
    """The GET URL check: answer ``msg`` (as the whole response body) when this is True."""
    return signature_matches(onenet_signature(token=token, nonce=nonce, msg=msg), signature)


def _top_level(text: str) -> dict[str, tuple[Any, str]]:
    """Top-level members of a JSON object with each value's exact source text."""
    decoder = json.JSONDecoder()
    ws = " \t\r\n"
    members: dict[str, tuple[Any, str]] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    i = skip(0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = skip(i + 1)
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i : i + 1] != '"':
                raise ValueError("expected a member name")
            key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            i = skip(i)
            if text[i : i + 1] != ":":
                raise ValueError("expected ':'")
            i = skip(i + 1)
            value, end = decoder.raw_decode(text, i)
            members[key] = (value, text[i:end])
            i = skip(end)
            if text[i : i + 1] == ",":
                i = skip(i + 1)
                continue
            if text[i : i + 1] == "}":
                i += 1
                break
            raise ValueError("expected ',' or '}'")
    if skip(i) != len(text):
        raise ValueError("trailing data after the object")
    return members


def _onenet_envelope(body: bytes) -> tuple[Any, list[str], str, str]:
    """(msg object, candidate msg texts to verify, nonce, signature) of a push body."""
    try:
        members = _top_level(body.decode("utf-8"))
    except (ValueError, RecursionError, IndexError) as exc:
        raise BadInput(Reason.MALFORMED_JSON, f"malformed JSON: {str(exc)[:120]}") from None
    if "msg" not in members or "nonce" not in members:
        raise BadInput(Reason.BAD_ENVELOPE, "OneNET push needs msg and nonce")
    signature = members.get("msg_signature", members.get("signature", (None, "")))[0]
    nonce = members["nonce"][0]
    if not isinstance(nonce, str) or not isinstance(signature, str):
        raise BadInput(Reason.BAD_ENVELOPE, "nonce and msg_signature/signature must be strings")
    msg, msg_text = members["msg"]
    if isinstance(msg, str):  # later SDK: msg is JSON text, signed as is
        try:
            return json.loads(msg), [msg], nonce, signature
        except (ValueError, RecursionError):
            raise BadInput(Reason.MALFORMED_JSON, "msg is not JSON text") from None
    texts = [msg_text]
    for separators in ((",", ":"), (", ", ": ")):  # tolerate re-serialised bodies
        with contextlib.suppress(ValueError, RecursionError):
            texts.append(json.dumps(msg, separators=separators, ensure_ascii=False))
    return msg, texts, nonce, signature


def onenet_verify_body(body: bytes, *, token: str) -> bool:
    """True when a data push body is signed with ``token`` (either SDK format)."""
    try:
        _, texts, nonce, signature = _onenet_envelope(body)
    except BadInput:
        return False
    return any(
        signature_matches(onenet_signature(token=token, nonce=nonce, msg=t), signature)
        for t in texts
    )


# --- parsers -----------------------------------------------------------------------------------


def _frame(
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


def _guard(
    body: Any, max_bytes: int, source: str, work: Callable[[bytes], ParseResult]
) -> ParseResult:
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
    resolve = _resolver(lookup)

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
        ts = _loose_ts(doc.get("timestamp")) or received_at
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
            return _frame(
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

    return _guard(body, max_bytes, source, work)


def _onenet_message(
    m: Any,
    index: int,
    *,
    resolve: Callable[[str], str | None],
    received_at: datetime | None,
    meter_tz: tzinfo,
    status_bits_for: StatusBitsFor | None,
) -> ParseResult:
    source = "onenet"
    if not isinstance(m, dict):
        return ParseResult(
            rejects=[
                Reject(
                    Reason.BAD_ENVELOPE,
                    "msg item must be an object",
                    cap(json.dumps(m, default=str)),
                    None,
                    index,
                    source,
                )
            ]
        )
    imei = str(m.get("imei") or "")
    dev_id = str(m.get("dev_id") or "")
    ts = _loose_ts(m.get("at")) or received_at
    code = (resolve(imei) if imei else None) or (resolve(dev_id) if dev_id else None)
    kind = m.get("type")
    if kind == 1:
        value = m.get("value")
        raw_item = cap(json.dumps(m, default=str))
        try:
            if isinstance(value, str):
                try:
                    frame = bytes.fromhex(value)
                except ValueError:
                    raise BadInput(Reason.BAD_ENCODING, "value is not hex meter bytes") from None
                return _frame(
                    frame,
                    imei or dev_id,
                    resolve=resolve,
                    source=source,
                    ts=ts,
                    meter_tz=meter_tz,
                    status_bits_for=status_bits_for,
                    index=index,
                    alt_key=dev_id,
                )
            number = parse_number(value)
            if code is None:
                raise BadInput(Reason.UNKNOWN_DEVICE, f"no sensor for device {imei or dev_id}")
            if ts is None:
                raise BadInput(Reason.MISSING_TIMESTAMP, "data point without 'at'")
            return ParseResult(readings=[RawReading(code, ts, number, source=source)])
        except BadInput as bad:
            return ParseResult(
                rejects=[Reject(bad.reason, bad.detail, raw_item, code, index, source)]
            )
    device = code or f"onenet:{imei or dev_id}"
    when = ts or datetime.now(UTC)
    if kind == 2:
        state = "online" if m.get("status") == 1 else "offline"
        return ParseResult(
            events=[DeviceEvent(device, when, state, {"login_type": m.get("login_type")}, source)]
        )
    data = {k: m.get(k) for k in ("type", "cmd_type", "cmd_id", "ds_id", "value") if k in m}
    return ParseResult(
        events=[
            DeviceEvent(device, when, "command_response" if kind == 7 else "event", data, source)
        ]
    )


def parse_onenet(
    body: bytes,
    *,
    token: str | None,
    max_bytes: int,
    lookup: Lookup,
    received_at: datetime | None = None,
    meter_tz: tzinfo = UTC,
    status_bits_for: StatusBitsFor | None = None,
) -> ParseResult:
    """One OneNET data push, either SDK format: ``{"msg": {...} or [...], "nonce",
    "msg_signature"}`` or ``{"msg": "<JSON text>", "nonce", "signature", ...}``. With a ``token``
    a bad signature rejects the whole body (reason bad_signature). NB data points carry the meter
    frame as hex in ``value``; numeric values are taken as readings. Never raises."""
    resolve = _resolver(lookup)

    def work(raw: bytes) -> ParseResult:
        msg, texts, nonce, signature = _onenet_envelope(raw)
        if token is not None and not any(
            signature_matches(onenet_signature(token=token, nonce=nonce, msg=t), signature)
            for t in texts
        ):
            raise BadInput(Reason.BAD_SIGNATURE, "msg signature does not match the token")
        result = ParseResult()
        for index, m in enumerate(msg if isinstance(msg, list) else [msg]):
            result.extend(
                _onenet_message(
                    m,
                    index,
                    resolve=resolve,
                    received_at=received_at,
                    meter_tz=meter_tz,
                    status_bits_for=status_bits_for,
                )
            )
        return result

    return _guard(body, max_bytes, "onenet", work)


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
        "timestamp": _ms(ts),
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


def onenet_push(
    *,
    token: str,
    imei: str,
    dev_id: int | str,
    frame: bytes,
    ts: datetime | int,
    nonce: str,
    new_format: bool = False,
) -> dict[str, Any]:
    """A signed OneNET data push carrying ``frame`` as hex. Serialise it with ``push_body`` (or
    ``json.dumps(..., separators=(",", ":"))``): the signature covers the compact msg text."""
    at = _ms(ts)
    msg = {
        "at": at,
        "imei": imei,
        "type": 1,
        "ds_id": ONENET_NB_DATASTREAM,
        "value": frame.hex().upper(),
        "dev_id": dev_id,
    }
    text = json.dumps(msg, separators=(",", ":"), ensure_ascii=False)
    signature = onenet_signature(token=token, nonce=nonce, msg=text)
    if new_format:
        return {
            "msg": text,
            "signature": signature,
            "nonce": nonce,
            "time": at,
            "id": f"{dev_id}-{at}",
        }
    return {"msg": msg, "msg_signature": signature, "nonce": nonce}


def push_body(push: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a push built above (what the simulators should POST)."""
    return json.dumps(push, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
