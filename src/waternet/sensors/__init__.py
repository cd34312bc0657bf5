"""The sensor registry: sensor codes, the device catalogue (kinds, units, meter models) and
registration of sensors (all-or-nothing, every problem listed)."""

from __future__ import annotations

from waternet.sensors.catalogue import Catalogue, KindSpec, MeterModel
from waternet.sensors.codes import KINDS, SensorCode, format_code, is_valid, parse
from waternet.sensors.models import STATUSES, TRANSPORTS, StatusBits
from waternet.sensors.service import (
    check_sensors,
    get_sensor,
    list_sensors,
    parse_sensor_csv,
    register_sensors,
)

__all__ = [
    "KINDS",
    "STATUSES",
    "TRANSPORTS",
    "Catalogue",
    "KindSpec",
    "MeterModel",
    "SensorCode",
    "StatusBits",
    "check_sensors",
    "format_code",
    "get_sensor",
    "is_valid",
    "list_sensors",
    "parse",
    "parse_sensor_csv",
    "register_sensors",
]
