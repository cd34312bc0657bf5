"""Element dataclasses of a network version and their JSON (de)serialisation.

Re-exported by :mod:`waternet.network.model`; import from there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from waternet.errors import ValidationFailed

FORMAT = "waternet.network/1"

NODE_KINDS = ("junction", "reservoir", "tank")
SOURCE_KINDS = frozenset({"reservoir", "tank"})
LINK_KINDS = ("pipe", "pump", "valve")
LINK_STATUSES = ("open", "closed", "active")
CONTROL_VALVE_TYPES = ("PRV", "PSV", "PBV", "FCV", "TCV", "GPV")
ONEWAY_VALVE_TYPES = frozenset({"PRV", "PSV"})
VALVE_NORMAL = ("open", "closed")
CUSTOMER_CLASSES = (
    "residential",
    "commercial",
    "industrial",
    "hospital",
    "dialysis",
    "school",
    "fire_station",
    "care_home",
)
CRITICAL_CLASSES = frozenset({"hospital", "dialysis", "school", "fire_station", "care_home"})
SENSOR_KINDS: dict[str, str] = {
    "PT": "pressure",
    "FT": "flow",
    "MT": "meter register",
    "LT": "level",
    "CL": "chlorine",
    "TB": "turbidity",
    "PH": "pH",
    "PS": "pump status",
}
ZONE_RE = re.compile(r"^[A-Z0-9]{1,8}$")
SENSOR_CODE_RE = re.compile(r"^(PT|FT|MT|LT|CL|TB|PH|PS)-([A-Z0-9]{1,8})-([0-9]{6})$")
NO_ZONE = "X"


def sensor_code(kind: str, zone: str | None, number: int) -> str:
    """``<KIND>-<ZONE>-<NNNNNN>``, e.g. ``sensor_code("PT", "D03", 123) == "PT-D03-000123"``."""
    z = zone or NO_ZONE
    if kind not in SENSOR_KINDS or not ZONE_RE.match(z) or not 0 <= number <= 999_999:
        raise ValueError(f"bad sensor code parts: {kind!r}, {zone!r}, {number!r}")
    return f"{kind}-{z}-{number:06d}"


@dataclass
class Node:
    """A junction, reservoir or tank. Reservoirs and tanks are the sources."""

    id: str
    kind: str = "junction"
    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None
    elevation_m: float = 0.0
    base_demand_m3s: float = 0.0
    head_m: float | None = None  # reservoir total head
    init_level_m: float | None = None  # tanks
    min_level_m: float | None = None
    max_level_m: float | None = None
    tank_diameter_m: float | None = None
    dma: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def has_coordinates(self) -> bool:
        return None not in (self.lon, self.lat, self.x, self.y)

    @property
    def xy(self) -> tuple[float, float]:
        """(x, y) metres; ValueError when the node has no coordinates."""
        if self.x is None or self.y is None:
            raise ValueError(f"node {self.id!r} has no coordinates")
        return self.x, self.y

    @property
    def lonlat(self) -> tuple[float, float]:
        """(lon, lat) degrees; ValueError when the node has no coordinates."""
        if self.lon is None or self.lat is None:
            raise ValueError(f"node {self.id!r} has no coordinates")
        return self.lon, self.lat


@dataclass
class Link:
    """A pipe, pump or control valve between two nodes.

    ``status`` is the initial status (``open``/``closed``, ``active`` for control valves);
    ``check_valve`` marks a pipe with a check valve (flow start -> end only); ``valve_type`` is
    the EPANET control valve type for ``kind == "valve"``. ``vertices``/``vertices_xy`` are the
    interior bends (WGS84 / metres), ends excluded.
    """

    id: str
    start: str
    end: str
    kind: str = "pipe"
    length_m: float = 0.0
    diameter_m: float = 0.0
    status: str = "open"
    check_valve: bool = False
    valve_type: str | None = None
    roughness: float | None = None
    material: str | None = None
    vertices: list[tuple[float, float]] = field(default_factory=list)
    vertices_xy: list[tuple[float, float]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def oneway(self) -> bool:
        """Carries water start -> end only: pumps, check-valve pipes, PRVs and PSVs."""
        return (
            self.kind == "pump"
            or (self.kind == "pipe" and self.check_valve)
            or (self.kind == "valve" and (self.valve_type or "").upper() in ONEWAY_VALVE_TYPES)
        )

    @property
    def closed(self) -> bool:
        """A pipe closed in its initial status (pumps and control valves are never 'closed')."""
        return self.kind == "pipe" and self.status == "closed"


@dataclass
class IsolationValve:
    """A valve on ``link`` next to ``node`` (WNTR valve-layer convention)."""

    id: str
    link: str
    node: str
    diameter_mm: float | None = None
    type: str = "gate"
    normal: str = "open"
    operable: bool = True
    lon: float | None = None
    lat: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hydrant:
    id: str
    node: str
    lon: float | None = None
    lat: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Customer:
    """A service connection, supplied from ``node`` or from pipe ``link`` (exactly one)."""

    account: str
    customer_class: str = "residential"
    node: str | None = None
    link: str | None = None
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def critical(self) -> bool:
        return self.customer_class in CRITICAL_CLASSES


@dataclass
class BoundaryMeter:
    """A metered link on a DMA border. ``inflow`` is +1 when positive link flow (start -> end)
    enters the DMA, -1 when it leaves it."""

    link: str
    inflow: int = 1
    sensor: str | None = None


@dataclass
class DMA:
    """District metered area; ``geometry`` is a GeoJSON Polygon/MultiPolygon in WGS84."""

    code: str
    name: str = ""
    geometry: dict[str, Any] | None = None
    boundary_meters: list[BoundaryMeter] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class SensorSite:
    """A sensor site ``<KIND>-<ZONE>-<NNNNNN>`` at a node or on a pipe."""

    code: str
    kind: str
    node: str | None = None
    link: str | None = None
    dma: str | None = None
    lon: float | None = None
    lat: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


E = TypeVar("E")

# dataclass field name -> document key
_RENAME = {"customer_class": "class"}
_UNRENAME = {v: k for k, v in _RENAME.items()}


def element_to_dict(obj: Any) -> dict[str, Any]:
    """One element as a JSON-ready dict (None values and empty attrs/vertex lists omitted)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None or (isinstance(v, (dict, list)) and not v and f.name != "boundary_meters"):
            continue
        if f.name in ("vertices", "vertices_xy"):
            v = [[float(a), float(b)] for a, b in v]
        elif f.name == "boundary_meters":
            v = [element_to_dict(m) for m in v]
        out[_RENAME.get(f.name, f.name)] = v
    return out


def element_from_dict(cls: type[E], data: Mapping[str, Any]) -> E:
    """Inverse of :func:`element_to_dict`; unknown keys are refused."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = _UNRENAME.get(key, key)
        if name not in names:
            raise ValidationFailed(
                f"{cls.__name__}: unknown field {key!r}",
                details=[{"code": "unknown_field", "element": str(key), "severity": "error"}],
            )
        if name in ("vertices", "vertices_xy"):
            value = [(float(a), float(b)) for a, b in value]
        elif name == "boundary_meters":
            value = [element_from_dict(BoundaryMeter, m) for m in value]
        elif name == "attrs" or name == "geometry":
            value = dict(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValidationFailed(f"{cls.__name__}: {exc}") from exc
