"""Projection helpers: WGS84 lon/lat for the map, projected metres for lengths and distances.

Every :class:`~waternet.network.model.NetworkModel` carries ``crs``, a projected CRS whose
units are metres (an ``EPSG:nnnn`` string, by default the UTM zone of the network). Node
coordinates are held twice: ``lon``/``lat`` (WGS84, for the map) and ``x``/``y`` (metres in
``crs``, for lengths, distances and the spatial index).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

from waternet.errors import ValidationFailed

WGS84 = "EPSG:4326"

FloatArray = NDArray[np.float64]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing ``(lon, lat)`` (326zz north, 327zz south)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValidationFailed(f"not a WGS84 position: lon={lon}, lat={lat}")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def parse_crs(crs: Any) -> pyproj.CRS:
    """Accept an EPSG int, ``"EPSG:nnnn"``, ``"nnnn"``, an OGC URN or a :class:`pyproj.CRS`."""
    if isinstance(crs, pyproj.CRS):
        return crs
    try:
        if isinstance(crs, int) or (isinstance(crs, str) and crs.strip().isdigit()):
            return pyproj.CRS.from_epsg(int(crs))
        if isinstance(crs, str):
            text = crs.strip()
            if text.upper() in {"CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"}:
                return pyproj.CRS.from_epsg(4326)
            return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise ValidationFailed(f"unknown CRS {crs!r}: {exc}") from exc
    raise ValidationFailed(f"unknown CRS {crs!r}")


def crs_name(crs: Any) -> str:
    """A short stable name: ``EPSG:nnnn`` when the CRS has one, else its PROJ string."""
    c = parse_crs(crs)
    code = c.to_epsg()
    return f"EPSG:{code}" if code is not None else c.to_proj4()


def metres_per_unit(crs: Any) -> float:
    """Metres per unit of a projected CRS's first axis (1.0 for metres, 0.3048... for feet)."""
    c = parse_crs(crs)
    if not c.is_projected:
        raise ValidationFailed(f"{crs_name(c)} is not a projected CRS")
    factor = c.axis_info[0].unit_conversion_factor
    return float(factor)


def is_metric_projected(crs: Any) -> bool:
    c = parse_crs(crs)
    return bool(c.is_projected) and math.isclose(metres_per_unit(c), 1.0)


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def transform(src: Any, dst: Any, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised coordinate transform, always in (x/lon, y/lat) order."""
    t = _transformer(parse_crs(src).to_wkt(), parse_crs(dst).to_wkt())
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    ox, oy = t.transform(xs, ys)
    return np.asarray(ox, dtype=np.float64), np.asarray(oy, dtype=np.float64)


class Projector:
    """Converts between WGS84 lon/lat and a model's projected metre CRS."""

    def __init__(self, crs: Any) -> None:
        c = parse_crs(crs)
        if not is_metric_projected(c):
            raise ValidationFailed(f"model CRS must be projected in metres, got {crs_name(c)}")
        self.crs = crs_name(c)
        wkt = c.to_wkt()
        self._fwd = _transformer(parse_crs(WGS84).to_wkt(), wkt)
        self._inv = _transformer(wkt, parse_crs(WGS84).to_wkt())

    def to_xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        x, y = self._fwd.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        return np.asarray(x, np.float64), np.asarray(y, np.float64)

    def to_lonlat(self, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        lon, lat = self._inv.transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
        return np.asarray(lon, np.float64), np.asarray(lat, np.float64)

    def point_xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._fwd.transform(lon, lat)
        return float(x), float(y)

    def point_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._inv.transform(x, y)
        return float(lon), float(lat)


@lru_cache(maxsize=16)
def projector(crs: str) -> Projector:
    """A cached :class:`Projector` for a CRS name."""
    return Projector(crs)


def polyline_length(xy: Sequence[tuple[float, float]]) -> float:
    """Planar length in the units of ``xy``."""
    if len(xy) < 2:
        return 0.0
    a = np.asarray(xy, dtype=np.float64)
    return float(np.hypot(*np.diff(a, axis=0).T).sum())


def round_lonlat(v: float) -> float:
    """Round a degree value to 1e-7 (about 1 cm): enough for the map, stable in JSON."""
    return round(float(v), 7)


def round_m(v: float) -> float:
    """Round a metre value to 1 mm."""
    return round(float(v), 3)
