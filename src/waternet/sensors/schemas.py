"""HTTP shapes of the sensor registry."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SensorIn(BaseModel):
    code: str = Field(examples=["PT-D03-000123"])
    unit: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    node_id: str | None = None
    link_id: str | None = None
    dma: str | None = None
    transport: str | None = None
    imei: str | None = None
    model: str | None = None
    status: str | None = None
    lon: float | None = None
    lat: float | None = None


class Registered(BaseModel):
    registered: int


class SensorOut(BaseModel):
    """A registered sensor."""

    id: int
    code: str
    kind: str
    unit: str
    min_value: float | None = None
    max_value: float | None = None
    node_id: str | None = None
    link_id: str | None = None
    dma: str | None = None
    transport: str
    imei: str | None = None
    model: str | None = None
    status: str
    lon: float | None = None
    lat: float | None = None
    created_at: datetime
    updated_at: datetime
