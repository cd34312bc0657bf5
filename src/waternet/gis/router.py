"""HTTP API of the map: network layers by bbox and zoom, and the pick under a click.

The paths stay under ``/api/v1/network`` (the map page and external tools use them). Handlers
borrow a pooled connection to load the version, then build layers / pick in a worker thread
(synchronous CPU work).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from waternet.auth.deps import require_roles
from waternet.db.deps import db_pool
from waternet.errors import ValidationFailed
from waternet.gis import service
from waternet.gis.layers import MAX_FEATURES, MAX_ZOOM, check_bbox
from waternet.gis.schemas import LayerCollection
from waternet.network import service as network_service
from waternet.network.schemas import PickOut

router = APIRouter(prefix="/api/v1/network", tags=["map"])

READERS = require_roles("dispatcher", "analyst", "crew", "service")


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise ValidationFailed(
            "bad bbox", details=[{"field": "bbox", "problem": "min_lon,min_lat,max_lon,max_lat"}]
        )
    return check_bbox(parts)


@router.get(
    "/layers/{layer}",
    dependencies=[Depends(READERS)],
    response_model=LayerCollection,
    response_class=GeoJSONResponse,
)
async def get_layer(
    layer: str,
    request: Request,
    bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat (WGS84)")],
    zoom: Annotated[int, Query(ge=0, le=MAX_ZOOM, description="web-map zoom level")],
    version: Annotated[int | None, Query(description="version id (default: active)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FEATURES)] = MAX_FEATURES,
) -> Response:
    """GeoJSON of one layer (pipes, junctions, sources, valves, hydrants, customers, dmas,
    sensors) in a bbox: clustered / filtered by zoom,
    at most ``limit`` features (``truncated`` says when some were left out)."""
    box = _parse_bbox(bbox)
    async with db_pool(request).connection() as conn:
        net = await network_service.aload(conn=conn, version_id=version)

    def render() -> str:
        doc = service.layer_geojson(net, layer, box, zoom, limit=limit)
        return json.dumps(doc, separators=(",", ":"))

    body = await run_in_threadpool(render)
    return Response(body, media_type="application/geo+json")


@router.get("/pick", response_model=PickOut, dependencies=[Depends(READERS)])
async def pick(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    tolerance_m: Annotated[float, Query(gt=0, le=500)] = 10.0,
    version: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    """The pipe under a clicked point, plus the nearest valve and hydrant."""
    async with db_pool(request).connection() as conn:
        net = await network_service.aload(conn=conn, version_id=version)
    return await run_in_threadpool(service.pick, net, lon=lon, lat=lat, tolerance_m=tolerance_m)
