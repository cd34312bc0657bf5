"""Response shapes of the network API (see src/waternet/network/router.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class VersionOut(BaseModel):
    id: int
    name: str
    source: str
    active: bool
    created_at: datetime
    created_by: str | None = None
    stats: dict[str, Any]
    n_warnings: int


class VersionDetail(VersionOut):
    warnings: list[dict[str, Any]]


class ImportOut(BaseModel):
    id: int
    report: dict[str, Any]


class PickOut(BaseModel):
    version: int
    lon: float
    lat: float
    tolerance_m: float
    pipe: dict[str, Any] | None
    valve: dict[str, Any] | None
    hydrant: dict[str, Any] | None


class ElementOut(BaseModel):
    layer: str
    id: str
    version: int
    properties: dict[str, Any]
    valves: list[str] | None = None
    links: list[str] | None = None
    customers: int | None = None
    critical: bool | None = None
