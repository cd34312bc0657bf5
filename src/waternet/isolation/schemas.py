"""HTTP shapes of the isolation API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from waternet.gis.schemas import FeatureCollection

DEFAULT_SNAP_M = 500.0


class MapPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)


class PlanRequest(BaseModel):
    """Exactly one of ``pipe``, ``node`` or ``point`` (snapped to the nearest pipe)."""

    model_config = ConfigDict(extra="forbid")
    pipe: str | None = Field(default=None, min_length=1, description="burst pipe id")
    node: str | None = Field(default=None, min_length=1, description="burst node id")
    point: MapPoint | None = Field(default=None, description="map point, snapped to a pipe")
    snap_m: float = Field(
        default=DEFAULT_SNAP_M, gt=0, le=10_000, description="max snapping distance for point"
    )
    stuck: list[str] = Field(default_factory=list, description="valves reported stuck")
    what_if: bool = Field(default=False, description="plans if each valve turns out stuck")
    version: int | None = Field(default=None, description="network version (default: active)")

    @model_validator(mode="after")
    def _one_target(self) -> PlanRequest:
        given = [k for k in ("pipe", "node", "point") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of pipe, node or point"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


# ---------------------------------------------------------------------------- plan response
# Field for field what ``isolation.service.burst_plan`` and ``IsolationPlan.to_json`` produce; the
# router answers with ``response_model_exclude_unset`` so keys a plan does not have stay absent.


class BurstOut(BaseModel):
    kind: Literal["pipe", "node"]
    id: str = Field(description="burst pipe (link) or node id")
    lon: float | None = Field(description="WGS84 position of the burst (null: no coordinates)")
    lat: float | None
    snapped_m: float | None = Field(
        default=None, description="distance from the given map point to the pipe (point only)"
    )


class BurstRef(BaseModel):
    kind: Literal["pipe", "node"]
    id: str


class PlanSummary(BaseModel):
    valves_to_close: int
    passed_valves: int
    isolated_links: int
    cut_off_links: int
    customers: int
    critical_customers: int
    hydrants_out_of_service: int
    unsupplied_before_links: int = Field(
        default=0, description="links already without supply before the plan"
    )
    unsupplied_before_customers: int = Field(
        default=0, description="customers already without water before the plan"
    )


class CutOffArea(BaseModel):
    """A connected piece of the cut-off part (outside the closed valves, without supply)."""

    area: int = Field(description="1 = the piece with most customers")
    nodes: list[str]
    links: list[str]
    length_m: float
    customers: int
    critical_customers: int


class PlanStep(BaseModel):
    order: int = Field(description="operation order, from 1")
    valve: str
    link: str
    node: str
    diameter_mm: float | None
    xy: list[float] | None = Field(description="position in the network's projected CRS")
    supply_side: bool = Field(description="closes a side the burst is fed from")
    customers_supplied: int | None = Field(description="customers still supplied after it")
    critical_supplied: int | None


class ValveReason(BaseModel):
    valve: str
    reason: str = Field(
        description="passed valves: inoperable, stuck or broken; valves not needed: "
        "bounds_unsupplied_area or cannot_feed_burst"
    )


class RestoreStepOut(BaseModel):
    stage: int = Field(description="1: reopen slowly to refill; 2: the others, reverse order")
    valve: str
    note: str
    customers_supplied: int | None


class PlanConflict(BaseModel):
    """A conflict with the live valve state (other active plans, valves reported broken)."""

    kind: str = Field(description="extra_outage or shared_valves")
    message: str
    nodes: list[str] = Field(default_factory=list, description="extra_outage")
    links: list[str] = Field(default_factory=list, description="extra_outage")
    closed_valves: list[str] = Field(default_factory=list, description="extra_outage")
    broken_valves: list[str] = Field(default_factory=list, description="extra_outage")
    valves: list[str] = Field(default_factory=list, description="shared_valves")


class TimeWindow(BaseModel):
    start: str
    end: str


class AffectedCustomer(BaseModel):
    account: str
    class_: str = Field(alias="class", description="customer class (hospital, residential...)")
    critical: bool
    status: Literal["isolated", "cut_off"]
    node: str | None
    link: str | None
    address: str = Field(default="", description="postal address ('' when unknown)")

    model_config = ConfigDict(populate_by_name=True)


class Consequences(BaseModel):
    count: int = Field(description="affected customers")
    by_class: dict[str, int]
    critical_count: int
    hydrants_out_of_service: list[str]
    sensors_reading_zero: list[str]
    isolated_pipe_length_m: float
    isolated_volume_m3: float
    cut_off_pipe_length_m: float
    dmas_touched: list[str]
    unsupplied_before_customers: int = 0
    unsupplied_before_critical_count: int = 0
    unsupplied_before_pipe_length_m: float = 0.0


class WhatIf(BaseModel):
    """The plan if this valve turns out stuck too."""

    valves_to_close: list[str]
    passed_valves: list[str]
    isolated_links: int
    cut_off_links: int
    affected_customers: int | None


class PlanDetail(BaseModel):
    burst: BurstRef
    valves_to_close: list[str] = Field(description="valve ids in operation order")
    steps: list[PlanStep]
    already_closed: list[str]
    not_needed: list[ValveReason]
    passed_valves: list[ValveReason]
    stuck: list[str]
    area_segments: int
    isolated_nodes: list[str]
    isolated_links: list[str]
    cut_off_nodes: list[str]
    cut_off_links: list[str]
    restore: list[RestoreStepOut]
    conflicts: list[PlanConflict]
    warnings: list[str] = []
    unsupplied_before_nodes: list[str] = Field(
        default=[], description="nodes already without supply before the plan (not cut off by it)"
    )
    unsupplied_before_links: list[str] = Field(
        default=[], description="links already without supply before the plan (not cut off by it)"
    )
    window: TimeWindow | None = None
    affected_customers: list[AffectedCustomer] | None = Field(
        default=None, description="critical first (absent without customer data)"
    )
    consequences: Consequences | None = None
    what_if: dict[str, WhatIf] | None = Field(
        default=None, description="valve id -> plan if that valve is stuck (what_if requests)"
    )


class PlanOut(BaseModel):
    """A closure plan for a burst, with its summary, cut-off areas and map form."""

    version: int = Field(description="network version the plan was computed on")
    network: str
    burst: BurstOut
    summary: PlanSummary
    cut_off_areas: list[CutOffArea]
    plan: PlanDetail
    geojson: FeatureCollection = Field(
        description="WGS84; every feature has a role: valve_to_close, passed_valve, isolated, "
        "cut_off, affected_customer, hydrant_out_of_service"
    )


# ---------------------------------------------------------------------------- criticality


class SegmentImpactOut(BaseModel):
    segment: int
    critical_customers: int
    customers: int
    nodes_out: int = Field(description="isolated + cut-off nodes")
    links_out: int
    valves_to_close: int


class RankedSegment(SegmentImpactOut):
    rank: int
    pipes: list[str] = Field(description="up to 50 pipes of the segment")
    n_pipes: int
    node: str | None = Field(description="a node to plan the segment's isolation from")


class NewValve(BaseModel):
    segment: int
    link: str
    node: str
    before: SegmentImpactOut
    after_worst_piece: SegmentImpactOut


class CriticalityOut(BaseModel):
    version: int
    network: str
    segments: int = Field(description="segments in the network")
    ranking: list[RankedSegment]
    best_new_valve: NewValve | None
