"""HTTP shapes of the time-series API. Times are ISO-8601 text with the utility's offset, exactly
as the services render them (so they are declared as strings of format date-time)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class _Range(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: IsoTime = Field(alias="from")
    to: IsoTime


class RawPoint(BaseModel):
    ts: IsoTime
    value: float
    quality: int


class BucketPoint(BaseModel):
    """One rollup bucket (level 1m, 15m, 1h or 1d)."""

    ts: IsoTime = Field(description="bucket start")
    mean: float | None
    min: float | None
    max: float | None
    count: int
    first: float | None
    last: float | None
    first_ts: IsoTime | None
    last_ts: IsoTime | None


class ReadingsOut(_Range):
    sensor: str
    unit: str
    level: str = Field(description="raw, 1m, 15m, 1h or 1d")
    truncated: bool = Field(description="more than max_points: ask again from next_from")
    next_from: IsoTime | None
    points: list[RawPoint] | list[BucketPoint] = Field(
        description="raw readings (level raw) or rollup buckets"
    )


class LatestValue(BaseModel):
    code: str
    kind: str
    dma: str | None
    lon: float | None
    lat: float | None
    ts: IsoTime
    value: float
    quality: int
    unit: str | None = None


class LatestOut(BaseModel):
    count: int
    sensors: list[LatestValue] = Field(description="in sensor id order")


class BalanceBucket(_Range):
    inflow_m3: float | None = Field(description="net inflow through the boundary meters")
    consumption_m3: float
    loss_m3: float | None
    loss_share: float | None
    consumption_estimated: bool
    meters_reporting: int


class BalanceOut(BaseModel):
    dma: str
    step: str = Field(description="hour or day")
    boundary_meters: list[str]
    customer_meters: int
    buckets: list[BalanceBucket]


class NightFlowDay(BaseModel):
    day: str = Field(json_schema_extra={"format": "date"})
    mnf_lps: float | None = Field(description="minimum night flow, L/s")
    mean_lps: float | None
    moving_mnf_lps: float | None


class NightFlowOut(BaseModel):
    dma: str
    unit: str = Field(examples=["L/s"])
    window: str = Field(description="local night window", examples=["02:00-04:00 local"])
    trend_lps_per_day: float | None
    days: list[NightFlowDay]


class ConsumptionBucket(_Range):
    volume_m3: float | None = Field(description="null when no meter has data for the bucket")
    estimated: bool
    flags: list[str]


class ConsumptionOut(BaseModel):
    meters: list[str]
    step: str = Field(description="hour or day")
    buckets: list[ConsumptionBucket]


class SensorQualityOut(BaseModel):
    code: str
    kind: str
    received: int
    expected_interval_s: float
    completeness: float
    stuck: bool
    flatline: bool
    last_seen: IsoTime | None
    last_received: IsoTime | None
    silent_for_s: float | None
    issues: list[str]


class QualitySummary(BaseModel):
    sensors: int
    with_issues: int


class QualityOut(_Range):
    flat_window_from: IsoTime
    sensors: list[SensorQualityOut]
    summary: QualitySummary
