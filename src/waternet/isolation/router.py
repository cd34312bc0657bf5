"""HTTP API of the isolation engine: closure plans for a burst and the criticality ranking.

Plans are computed on the active network version, or on ``version`` when given. Computing a plan
changes nothing (plans are not stored yet), so crews may ask for one too: a crew that finds a
valve stuck gets the new plan at once. The criticality ranking is for planners and dispatchers.
Admin is always admitted. Handlers borrow a pooled connection to load the version, then run the
engine's synchronous CPU work in a worker thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from waternet.auth.deps import require_roles
from waternet.db.deps import db_pool
from waternet.isolation import service
from waternet.isolation.schemas import CriticalityOut, PlanOut, PlanRequest
from waternet.network import service as network_service

router = APIRouter(prefix="/api/v1/isolation", tags=["isolation"])

PLANNERS = require_roles("dispatcher", "analyst", "crew")
RANKERS = require_roles("dispatcher", "analyst")


@router.post("/plans", response_model=PlanOut, response_model_exclude_unset=True)
async def create_plan(
    body: PlanRequest, request: Request, _p: Annotated[Any, Depends(PLANNERS)]
) -> dict[str, Any]:
    """Closure plan for a burst: valves to close in operation order, isolated and cut-off
    pipes, affected customers (critical first), restore order, optional what-if plans; plus
    GeoJSON (WGS84 lon/lat) for the map."""
    async with db_pool(request).connection() as conn:
        net = await network_service.aload(conn=conn, version_id=body.version)
    point = (body.point.lon, body.point.lat) if body.point is not None else None
    return await run_in_threadpool(
        service.burst_plan,
        net,
        pipe=body.pipe,
        node=body.node,
        point=point,
        snap_m=body.snap_m,
        stuck=body.stuck,
        what_if=body.what_if,
    )


@router.get("/criticality", response_model=CriticalityOut, response_model_exclude_unset=True)
async def criticality(
    request: Request,
    _p: Annotated[Any, Depends(RANKERS)],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
    version: Annotated[int | None, Query(description="default: the active version")] = None,
) -> dict[str, Any]:
    """Segments ranked by critical customers, customers, nodes and links out of supply if the
    segment must be isolated (unintended isolation included), and the single new valve that
    would most shrink the worst segment. Computed once per network version."""
    async with db_pool(request).connection() as conn:
        net = await network_service.aload(conn=conn, version_id=version)
    return await run_in_threadpool(service.criticality, net, limit=limit)
