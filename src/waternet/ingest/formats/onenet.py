"""OneNET pushes (see sensors/nbiot-platforms.md): the URL-check and push signatures, the
push parser (either SDK format) and the encoder the simulators use. Shared helpers (device
lookup, the body guard, ``push_body``) are in ``waternet.ingest.formats.platforms``. Pure code:
no I/O.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable
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
    parse_number,
)
from waternet.ingest.formats.platforms import (
    Lookup,
    StatusBitsFor,
    device_frame,
    epoch_ms,
    guard,
    loose_ts,
    resolver,
    signature_matches,
)

ONENET_NB_DATASTREAM = "3200_0_5750"  # LwM2M object 3200 (digital input) resource 5750, as used


# --- OneNET signatures -------------------------------------------------------------------------


def onenet_signature(*, token: str, nonce: str, msg: str) -> str:
    """base64(MD5(token + nonce + msg)), the OneNET URL-check and push signature."""
    digest = hashlib.md5((token + nonce + msg).encode("utf-8"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


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
    ts = loose_ts(m.get("at")) or received_at
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
                return device_frame(
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
    resolve = resolver(lookup)

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

    return guard(body, max_bytes, "onenet", work)


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
    """A signed OneNET data push carrying ``frame`` as hex. Serialise it with
    ``platforms.push_body`` (or ``json.dumps(..., separators=(",", ":"))``): the signature covers
    the compact msg text."""
    at = epoch_ms(ts)
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
