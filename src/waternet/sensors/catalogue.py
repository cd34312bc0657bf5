"""The sensor catalogue under ``sensors/``: kinds, canonical units, ranges, conversions, models.

``load()`` reads ``sensors/kinds.json`` and ``sensors/meter_models.json`` (directory from the
``WATERNET_SENSORS_DIR`` setting, else the repository's ``sensors/``) and checks them;
``default()`` caches one instance. Pure apart from reading those two files.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from waternet.config import get_settings
from waternet.errors import ConfigError
from waternet.sensors.codes import KINDS
from waternet.sensors.models import StatusBits


@dataclass(frozen=True, slots=True)
class KindSpec:
    code: str  # "PT"
    name: str  # "pressure"
    unit: str  # canonical unit
    min: float
    max: float
    integer: bool
    units: dict[str, float]  # accepted unit -> factor to canonical

    def to_canonical(self, value: float, unit: str | None) -> float | None:
        """``value`` in ``unit`` converted to the canonical unit; ``None`` for an unknown unit."""
        if unit is None or unit == self.unit:
            return value
        factor = self.units.get(unit)
        return None if factor is None else value * factor


@dataclass(frozen=True, slots=True)
class MeterModel:
    id: str
    label: str
    kind: str
    codec: str  # "cjt188" | "wnframe"
    di_order: str | None
    transport: tuple[str, ...]
    status_bits: StatusBits | None
    interval_min: int | None = None


@dataclass(frozen=True, slots=True)
class Catalogue:
    kinds: dict[str, KindSpec]
    models: dict[str, MeterModel]

    def kind(self, code_or_name: str) -> KindSpec:
        if code_or_name in self.kinds:
            return self.kinds[code_or_name]
        for spec in self.kinds.values():
            if spec.name == code_or_name:
                return spec
        raise KeyError(code_or_name)

    def convert(self, value: float, *, unit: str | None, kind: str) -> float | None:
        return self.kind(kind).to_canonical(value, unit)

    def status_bits(self, model_id: str | None) -> StatusBits | None:
        model = self.models.get(model_id) if model_id else None
        return None if model is None else model.status_bits


def sensors_dir() -> Path:
    """``WATERNET_SENSORS_DIR``; else the copy packaged in the wheel; else the repository's."""
    configured = get_settings().sensors_dir
    if configured is not None:
        return configured
    packaged = Path(__file__).resolve().parents[1] / "_sensors"
    if (packaged / "kinds.json").exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "sensors"


def _kind(code: str, raw: dict[str, Any]) -> KindSpec:
    units = {str(k): float(v) for k, v in raw["units"].items()}
    spec = KindSpec(
        code=code,
        name=str(raw["name"]),
        unit=str(raw["unit"]),
        min=float(raw["min"]),
        max=float(raw["max"]),
        integer=bool(raw.get("integer", False)),
        units=units,
    )
    if code not in KINDS or KINDS[code] != spec.name:
        raise ConfigError(f"kind {code} ({spec.name}) does not match sensorcode.KINDS")
    if spec.unit not in units or units[spec.unit] != 1.0 or not spec.min < spec.max:
        raise ConfigError(f"kind {code}: canonical unit must have factor 1 and min < max")
    if not all(math.isfinite(f) and f != 0 for f in units.values()):
        raise ConfigError(f"kind {code}: unit factors must be finite and non-zero")
    return spec


def _model(model_id: str, raw: dict[str, Any]) -> MeterModel:
    bits_raw = raw.get("status_bits")
    bits = None
    if bits_raw is not None:
        flags = tuple((str(k), int(v)) for k, v in bits_raw.get("flags", {}).items())
        bits = StatusBits(
            valve=bits_raw.get("valve"), battery_low=bits_raw.get("battery_low"), flags=flags
        )
        positions = [p for p in (bits.valve, bits.battery_low) if p is not None]
        if any(not 0 <= p <= 15 for p in [*positions, *(b for _, b in flags)]) or (
            bits.valve is not None and bits.valve > 14
        ):
            raise ConfigError(f"model {model_id}: status bit positions must be within 0..15")
    codec = str(raw["codec"])
    if codec not in ("cjt188", "wnframe") or raw.get("di_order") not in ("901F", "1F90", None):
        raise ConfigError(f"model {model_id}: unknown codec or di_order")
    return MeterModel(
        id=model_id,
        label=str(raw.get("label", model_id)),
        kind=str(raw["kind"]),
        codec=codec,
        di_order=raw.get("di_order"),
        transport=tuple(raw.get("transport", ())),
        status_bits=bits,
        interval_min=raw.get("interval_min"),
    )


def load(directory: Path | None = None) -> Catalogue:
    """Read and check the catalogue; raises ``ConfigError`` on a missing or inconsistent file."""
    base = directory or sensors_dir()
    try:
        kinds_raw = json.loads((base / "kinds.json").read_text(encoding="utf-8"))
        models_raw = json.loads((base / "meter_models.json").read_text(encoding="utf-8"))
        kinds = {code: _kind(code, raw) for code, raw in kinds_raw["kinds"].items()}
        models = {mid: _model(mid, raw) for mid, raw in models_raw["models"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot load sensor catalogue from {base}: {exc}") from exc
    missing = set(KINDS) - set(kinds)
    if missing:
        raise ConfigError(f"catalogue lacks kinds {sorted(missing)}")
    for model in models.values():
        if model.kind not in kinds:
            raise ConfigError(f"model {model.id}: unknown kind {model.kind}")
    return Catalogue(kinds=kinds, models=models)


@lru_cache(maxsize=1)
def default() -> Catalogue:
    return load()
