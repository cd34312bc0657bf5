"""HTTP shapes of the isolation API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
