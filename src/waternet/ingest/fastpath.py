"""The common case of MQTT JSON telemetry in one pass: message -> rows, or ``None``.

Nearly every message a utility receives is well formed: JSON readings with epoch-millisecond
times, of registered active sensors, in their canonical unit, in range and in the time window.
The general path (``payloads`` parses, ``validation`` checks each reading against its registry
entry) spends most of its time building objects for that case. :func:`rows` handles it with
plain comparisons against a per-registry table (:class:`FastTable`) and returns the rows; for
any message with anything else in it (ISO-8601 times, units, unknown sensors, bad values, extra
keys, raw frames...) it returns ``None`` and the message takes the general path, which yields
the same rows for it and the reasons for the rest. ``tests/unit/telemetry/test_fastpath.py``
checks that the two paths agree on generated messages.

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from waternet.ingest.validation import ACCEPTING_STATUSES, SensorSpec
from waternet.sensors import codes as sensorcode

TELEMETRY = "waternet/v1/telemetry/"
BATCH = "waternet/v1/batch/"
_GATEWAY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_MS = 253_402_300_799_999  # as payloads.parse_ts
_MAX_QUALITY = 32767
_MAX_EXACT_INT = 2**53
_ITEM_KEYS = frozenset({"s", "ts", "v", "q"})
_SINGLE_KEYS = frozenset({"ts", "v", "q"})
_fromtimestamp = datetime.fromtimestamp
# msgspec decodes in C; what it refuses (NaN literals, huge integers...) declines the fast path
# and json.loads decides on the general path
_decode = msgspec.json.Decoder().decode
_DecodeError = msgspec.DecodeError

Row = tuple[int, datetime, float, int]
# sensor id, lowest and highest valid value, pump status (value must be exactly 0 or 1)
Entry = tuple[int, float, float, bool]


@dataclass(frozen=True, slots=True)
class FastTable:
    """Sensors the fast path may accept: valid code, accepting status, kind matching the code."""

    entries: dict[str, Entry]

    @classmethod
    def build(cls, by_code: dict[str, tuple[int, SensorSpec]]) -> FastTable:
        entries: dict[str, Entry] = {}
        for code, (sid, spec) in by_code.items():
            if (
                spec.code == code
                and spec.status in ACCEPTING_STATUSES
                and spec.kind == code[:2]
                and sensorcode.is_valid(code)
                and not math.isnan(spec.min)
                and not math.isnan(spec.max)
            ):
                entries[code] = (sid, spec.min, spec.max, spec.kind == "PS")
        return cls(entries)


def _row(obj: dict[str, Any], entry: Entry, lo: datetime, hi: datetime) -> Row | None:
    v = obj.get("v")
    tv = type(v)
    if tv is int:
        if not -_MAX_EXACT_INT <= v <= _MAX_EXACT_INT:  # type: ignore[operator]
            return None
        v = float(v)  # type: ignore[arg-type]
    elif tv is not float or v - v != 0.0:  # type: ignore[operator]  # NaN and infinities
        return None
    assert isinstance(v, float)
    sid, vmin, vmax, pump = entry
    if not vmin <= v <= vmax or (pump and v != 0.0 and v != 1.0):
        return None
    ms = obj.get("ts")
    if type(ms) is not int or not 0 <= ms <= _MAX_MS:
        return None
    q = obj.get("q", 0)
    if type(q) is not int or not 0 <= q <= _MAX_QUALITY:
        return None
    ts = _fromtimestamp(ms / 1000, UTC)
    if ts > hi or ts < lo:
        return None
    return (sid, ts, v, q)


def rows(
    topic: str,
    payload: bytes,
    table: FastTable,
    *,
    lo: datetime,
    hi: datetime,
    max_payload: int,
) -> list[Row] | None:
    """The rows of a message whose every reading is accepted (readings with times in
    ``[lo, hi]``), else ``None`` (the general path decides)."""
    if len(payload) > max_payload:
        return None
    entries = table.entries
    if topic.startswith(TELEMETRY):
        entry = entries.get(topic[len(TELEMETRY) :])
        if entry is None:
            return None
        try:
            doc = _decode(payload)
        except (_DecodeError, RecursionError):
            return None
        if type(doc) is not dict or not doc.keys() <= _SINGLE_KEYS:
            return None
        row = _row(doc, entry, lo, hi)
        return None if row is None else [row]
    if topic.startswith(BATCH):
        if not _GATEWAY.fullmatch(topic, len(BATCH)):
            return None
        try:
            doc = _decode(payload)
        except (_DecodeError, RecursionError):
            return None
        if type(doc) is not dict:
            return None
        items = doc.get("readings")
        if type(items) is not list:
            return None
        out: list[Row] = []
        for item in items:
            if type(item) is not dict or not item.keys() <= _ITEM_KEYS:
                return None
            code = item.get("s")
            entry = entries.get(code) if type(code) is str else None
            if entry is None:
                return None
            row = _row(item, entry, lo, hi)
            if row is None:
                return None
            out.append(row)
        return out
    return None
