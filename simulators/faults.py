"""Faults on demand, and the expected ingest outcome of every message.

Reading-level faults change what a sensor sends before it is packed into messages: dropouts
(never sent), stuck sensors (one value repeated over a window), flat-lining sensors (0 over a
window), clock skew (a sensor's timestamps shifted over a window: a small skew is stored as
sent, a skew into the future or far past is quarantined ``future_timestamp`` / ``too_old``),
and unknown sensors (codes nobody registered: ``unknown_sensor``). Message-level faults act on
the packed messages: duplicates (the same bytes sent again: ``duplicate``), out-of-order
delivery (sent minutes late), corrupted frames (a CJ/T 188 or WN1 byte flipped: ``bad_checksum``
/ ``bad_crc``), malformed JSON (``malformed_json``). A gateway offline for an hour keeps its
batches and flushes the backlog when it comes back (``FleetConfig`` / ``simulators.fleet``).

``expected_outcomes`` walks the final stream in send order like ingest would and gives each
reading its expected outcome: stored, quarantined with a reason, or duplicate (a (sensor, ts)
already stored). Reason codes are those of ``waternet.ingest.formats.mqtt`` and ``validation``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.messages import DUPLICATE, QUARANTINED, STORED, Draft, Expect, Reading
from waternet.ingest.codecs import wnframe
from waternet.ingest.formats.mqtt import Reason
from waternet.ingest.validation import ValidationReason

FAULT_TYPES = (
    "dropout",
    "duplicate",
    "out_of_order",
    "clock_skew",
    "stuck",
    "flatline",
    "corrupt_frame",
    "malformed_json",
    "unknown_sensor",
    "gateway_offline",
)
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """How many of each fault to inject (windows for stuck/flatline/skew, events otherwise)."""

    dropout: int = 0
    duplicate: int = 0
    out_of_order: int = 0
    clock_skew: int = 0
    stuck: int = 0
    flatline: int = 0
    corrupt_frame: int = 0
    malformed_json: int = 0
    unknown_sensor: int = 0
    gateway_offline: int = 0
    window_s: int = 1800  # stuck, flat-line and clock-skew windows
    offline_s: int = 3600  # gateway outage
    # clock skews cycled through: small ones are stored as sent, large ones quarantined
    skews_s: tuple[float, ...] = (97.0, -143.0, 30 * DAY, -400 * DAY)  # = skews_s_default()
    delay_s: tuple[float, float] = (120.0, 600.0)  # out-of-order lateness range

    @classmethod
    def every(cls, n: int = 3) -> FaultPlan:
        """``n`` of every fault type (at least one gateway outage)."""
        counts = {t: n for t in FAULT_TYPES}
        counts["clock_skew"] = max(n, len(cls.skews_s_default()))  # every kind of skew
        counts["corrupt_frame"] = max(n, 2)  # a CJ/T 188 frame and a WN1 frame at least
        counts["gateway_offline"] = max(1, n // 3)
        return cls.from_counts(counts)

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> FaultPlan:
        """A plan from ``{fault type: count}`` (types: ``FAULT_TYPES``)."""
        unknown = set(counts) - set(FAULT_TYPES)
        if unknown:
            raise ValueError(f"unknown fault types: {sorted(unknown)}")
        fields: dict[str, Any] = {k: int(v) for k, v in counts.items()}
        return dataclasses.replace(cls(), **fields)

    @staticmethod
    def skews_s_default() -> tuple[float, ...]:
        return (97.0, -143.0, 30 * DAY, -400 * DAY)

    @classmethod
    def none(cls) -> FaultPlan:
        return cls()

    def counts(self) -> dict[str, int]:
        return {t: int(getattr(self, t)) for t in FAULT_TYPES}


@dataclass(frozen=True, slots=True)
class IngestModel:
    """What ingest refuses on time: ts > send time + margin, or older than ``max_age_s``."""

    future_margin_s: float = 300.0
    max_age_s: float = 35 * DAY  # settings: ingest_future_margin_s, ingest_max_age_days


def _pick(rng: np.random.Generator, n_items: int, k: int) -> list[int]:
    k = min(k, n_items)
    return sorted(rng.choice(n_items, size=k, replace=False).tolist()) if k else []


def reading_faults(
    streams: dict[str, list[Reading]],
    plan: FaultPlan,
    *,
    rng: np.random.Generator,
    unknown_codes: list[str],
) -> list[dict[str, Any]]:
    """Apply dropouts, stuck, flat-line and clock skew to per-sensor streams (in place).

    Windows are picked on distinct sensors where possible; a reading gets one fault at most.
    Returns the fault records. Unknown-sensor readings are made by the caller (it knows the
    packaging) from ``unknown_codes``; they are recorded there.
    """
    records: list[dict[str, Any]] = []
    codes = sorted(streams)
    touched: set[tuple[str, int]] = set()
    windows = [("stuck", plan.stuck), ("flatline", plan.flatline), ("clock_skew", plan.clock_skew)]
    n_windows = sum(n for _, n in windows)
    sensor_idx = (
        _pick(rng, len(codes), n_windows)
        if n_windows <= len(codes)
        else rng.choice(len(codes), size=n_windows, replace=True).tolist()
    )
    k = 0
    for ftype, n in windows:
        for j in range(n):
            code = codes[sensor_idx[k]]
            k += 1
            stream = streams[code]
            free = [i for i, r in enumerate(stream) if (code, i) not in touched]
            if len(free) < 2:
                continue
            first = free[int(rng.integers(0, max(1, len(free) // 2)))]
            t0 = stream[first].ts_ms
            idx = [i for i in free if t0 <= stream[i].ts_ms < t0 + plan.window_s * 1000]
            rec: dict[str, Any] = {
                "type": ftype,
                "sensor": code,
                "from_ts": t0,
                "to_ts": t0 + plan.window_s * 1000,
                "readings": len(idx),
            }
            if ftype == "stuck":
                held = stream[first].value
                for i in idx:
                    stream[i].value = held
                rec["value"] = held
            elif ftype == "flatline":
                for i in idx:
                    stream[i].value = 0.0
                rec["value"] = 0.0
            else:
                skew = plan.skews_s[j % len(plan.skews_s)]
                for i in idx:
                    stream[i].ts_ms += round(skew * 1000)
                rec["skew_s"] = skew
            for i in idx:
                stream[i].tags.append(f"fault:{ftype}")
                touched.add((code, i))
            records.append(rec)
    # dropouts: single readings the sensor never sent
    flat = [(c, i) for c in codes for i in range(len(streams[c])) if (c, i) not in touched]
    dropped = [flat[i] for i in _pick(rng, len(flat), plan.dropout)]
    for code, i in sorted(dropped, key=lambda ci: (ci[0], -ci[1])):
        r = streams[code].pop(i)
        records.append({"type": "dropout", "sensor": code, "ts": r.ts_ms, "value": r.value})
    return records


def message_faults(
    drafts: list[Draft], plan: FaultPlan, *, rng: np.random.Generator
) -> tuple[list[Draft], list[dict[str, Any]]]:
    """Corrupt, garble, delay and duplicate messages; one message-level fault per message."""
    records: list[dict[str, Any]] = []
    used: set[int] = set()

    def choose(kinds: tuple[str, ...], k: int) -> list[int]:
        pool = [
            i
            for i, d in enumerate(drafts)
            if d.kind in kinds
            and i not in used
            and d.broken is None
            and d.readings
            and all(r.known for r in d.readings)
        ]
        chosen = [pool[i] for i in _pick(rng, len(pool), k)]
        used.update(chosen)
        return chosen

    n_raw = (plan.corrupt_frame + 1) // 2
    corrupt = choose(("raw",), n_raw)
    corrupt += choose(("ctwing", "onenet"), plan.corrupt_frame - len(corrupt))
    corrupt += choose(("raw",), plan.corrupt_frame - len(corrupt))
    for i in corrupt:
        d = drafts[i]
        d.payload, d.broken = _corrupt(d)
        d.tags.append("fault:corrupt_frame")
        records.append(
            {
                "type": "corrupt_frame",
                "kind": d.kind,
                "target": d.target,
                "send_at": d.send_at,
                "reason": d.broken,
            }
        )
    for i in choose(("telemetry", "batch"), plan.malformed_json):
        d = drafts[i]
        cut = max(1, len(d.payload) // 2)
        d.payload = d.payload[:cut] + b"\x00}"
        d.broken = Reason.MALFORMED_JSON.value
        d.tags.append("fault:malformed_json")
        records.append(
            {"type": "malformed_json", "kind": d.kind, "target": d.target, "send_at": d.send_at}
        )
    lo, hi = plan.delay_s
    for i in choose(("telemetry", "batch", "raw"), plan.out_of_order):
        d = drafts[i]
        delay = float(round(rng.uniform(lo, hi), 3))
        d.send_at += delay
        d.tags.append("fault:out_of_order")
        records.append(
            {
                "type": "out_of_order",
                "kind": d.kind,
                "target": d.target,
                "delay_s": delay,
                "send_at": d.send_at,
            }
        )
    copies: list[Draft] = []
    for i in choose(("telemetry", "batch", "raw", "ctwing", "onenet"), plan.duplicate):
        d = drafts[i]
        again = float(round(rng.uniform(0.5, 30.0), 3))
        copy = dataclasses.replace(
            d,
            send_at=d.send_at + again,
            tags=[*d.tags, "fault:duplicate"],
            readings=list(d.readings),
        )
        copies.append(copy)
        records.append(
            {
                "type": "duplicate",
                "kind": d.kind,
                "target": d.target,
                "send_at": copy.send_at,
                "readings": len(d.readings),
            }
        )
    return drafts + copies, records


def _corrupt(d: Draft) -> tuple[bytes, str]:
    """Flip one byte inside the meter frame: the checksum (CJ/T 188) or CRC (WN1) fails."""
    if d.kind == "raw":
        data = bytearray(d.payload)
        data[-4] ^= 0x01  # last status byte before CS 16: sum changes, framing intact
        return bytes(data), "bad_checksum"
    if d.wrap is None:
        raise ValueError(f"cannot corrupt a {d.kind} message")
    frame = bytearray(d.frame)
    frame[wnframe.HEADER_SIZE] ^= 0x01  # first register byte: the CRC-16 fails
    d.frame = bytes(frame)
    return d.wrap(d.frame), "bad_crc"


def expected_outcomes(drafts: list[Draft], model: IngestModel) -> list[tuple[Expect, ...]]:
    """The expected ingest outcome of every reading, walking ``drafts`` in their order."""
    seen: set[tuple[str, int]] = set()
    out: list[tuple[Expect, ...]] = []
    for d in drafts:
        if d.broken is not None:
            code = d.readings[0].code if d.kind != "batch" and d.readings else None
            out.append((Expect(code, None, None, QUARANTINED, d.broken),))
            continue
        now_ms = d.send_at * 1000
        exp = []
        for r in d.readings:
            if not r.known:
                reason = (
                    Reason.UNKNOWN_DEVICE.value
                    if d.kind in ("ctwing", "onenet")
                    else ValidationReason.UNKNOWN_SENSOR.value
                )
                exp.append(Expect(r.code, r.ts_ms, r.value, QUARANTINED, reason))
            elif r.ts_ms > now_ms + model.future_margin_s * 1000:
                exp.append(
                    Expect(
                        r.code,
                        r.ts_ms,
                        r.value,
                        QUARANTINED,
                        ValidationReason.FUTURE_TIMESTAMP.value,
                    )
                )
            elif r.ts_ms < now_ms - model.max_age_s * 1000:
                exp.append(
                    Expect(r.code, r.ts_ms, r.value, QUARANTINED, ValidationReason.TOO_OLD.value)
                )
            elif (r.code, r.ts_ms) in seen:
                exp.append(Expect(r.code, r.ts_ms, r.value, DUPLICATE))
            else:
                seen.add((r.code, r.ts_ms))
                exp.append(Expect(r.code, r.ts_ms, r.value, STORED))
        out.append(tuple(exp))
    return out


def totals(expects: list[tuple[Expect, ...]]) -> dict[str, Any]:
    """Counts to compare with ingest: stored rows, quarantine rows by reason, duplicates."""
    c: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for exp in expects:
        for e in exp:
            c[e.outcome] += 1
            if e.outcome == QUARANTINED:
                reasons[str(e.reason)] += 1
    return {
        "stored": c[STORED],
        "quarantined": c[QUARANTINED],
        "duplicate": c[DUPLICATE],
        "quarantined_by_reason": dict(sorted(reasons.items())),
    }
