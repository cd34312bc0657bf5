"""Pure validation of one parsed reading against its registry entry.

``validate`` returns a stable reason code (``ValidationReason``) or ``None``; ``normalize``
converts an accepted reading to the sensor's canonical unit. No I/O: the caller looks the
``SensorSpec`` up (``None`` when the code is not registered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from waternet.ingest.formats.mqtt import RawReading
from waternet.sensors.catalogue import Catalogue, default

ACCEPTING_STATUSES = frozenset({"active", "maintenance"})
STATUSES = frozenset({"active", "maintenance", "disabled", "retired"})


class ValidationReason(StrEnum):
    UNKNOWN_SENSOR = "unknown_sensor"
    SENSOR_DISABLED = "sensor_disabled"
    NAN = "nan"
    UNIT_MISMATCH = "unit_mismatch"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_OLD = "too_old"


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """What validation needs from the registry. ``min``/``max`` in ``unit`` (the kind's canonical
    unit); ``status`` one of active, maintenance (accepted), disabled, retired (refused);
    ``transport`` mqtt or nbiot."""

    code: str
    kind: str  # two-letter kind code, e.g. "PT"
    unit: str
    min: float
    max: float
    status: str = "active"
    transport: str = "mqtt"


def canonical_value(
    reading: RawReading, sensor: SensorSpec, catalogue: Catalogue | None = None
) -> float | None:
    """The reading's value in ``sensor.unit``, or ``None`` if its unit cannot be converted."""
    if reading.unit is None or reading.unit == sensor.unit:
        return reading.value
    cat = catalogue or default()
    try:
        kind = cat.kind(sensor.kind)
    except KeyError:
        return None
    if kind.unit != sensor.unit:
        return None
    return kind.to_canonical(reading.value, reading.unit)


def validate(
    reading: RawReading,
    sensor: SensorSpec | None,
    *,
    now: datetime,
    future_margin: timedelta,
    max_age: timedelta,
    catalogue: Catalogue | None = None,
) -> str | None:
    """First failing check, in this order: unknown_sensor, sensor_disabled, nan, unit_mismatch,
    out_of_range (after unit conversion; pump status must be exactly 0 or 1), future_timestamp
    (ts > now + future_margin), too_old (ts < now - max_age). ``None`` = accept."""
    if sensor is None or sensor.code != reading.sensor_code:
        return ValidationReason.UNKNOWN_SENSOR
    if sensor.status not in ACCEPTING_STATUSES:
        return ValidationReason.SENSOR_DISABLED
    if not math.isfinite(reading.value):
        return ValidationReason.NAN
    value = canonical_value(reading, sensor, catalogue)
    if value is None or sensor.kind != reading.sensor_code[:2]:
        return ValidationReason.UNIT_MISMATCH
    if not math.isfinite(value) or not sensor.min <= value <= sensor.max:
        return ValidationReason.OUT_OF_RANGE
    if sensor.kind == "PS" and value not in (0.0, 1.0):
        return ValidationReason.OUT_OF_RANGE
    if reading.ts > now + future_margin:
        return ValidationReason.FUTURE_TIMESTAMP
    if reading.ts < now - max_age:
        return ValidationReason.TOO_OLD
    return None


def normalize(
    reading: RawReading, sensor: SensorSpec, catalogue: Catalogue | None = None
) -> RawReading:
    """The reading in the sensor's canonical unit (``unit=None``); unchanged if not convertible."""
    value = canonical_value(reading, sensor, catalogue)
    if value is None:
        return reading
    return replace(reading, value=value, unit=None)
