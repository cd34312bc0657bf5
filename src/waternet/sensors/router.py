"""HTTP: the sensor registry (register, bulk CSV, list, look up)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from waternet.auth.deps import require_roles
from waternet.db.deps import DbConn, db_pool
from waternet.sensors import service
from waternet.sensors.schemas import Registered, SensorIn, SensorOut

router = APIRouter(prefix="/api/v1/sensors", tags=["sensors"])
READERS = require_roles("dispatcher", "analyst", "service", "crew")
WRITERS = require_roles("service")


@router.post("", response_model=Registered, dependencies=[Depends(WRITERS)])
async def register_sensors(
    request: Request, sensors: Annotated[list[SensorIn], Body(min_length=1, max_length=100_000)]
) -> Registered:
    """Register or update sensors (all-or-nothing; every problem is listed)."""
    records = [s.model_dump() for s in sensors]
    async with db_pool(request).connection() as conn:
        n = await service.aregister_sensors(conn=conn, records=records)
    return Registered(registered=n)


@router.post(
    "/csv",
    response_model=Registered,
    dependencies=[Depends(WRITERS)],
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def register_sensors_csv(request: Request) -> Registered:
    """Bulk-load sensors from CSV (header: code,unit,min_value,max_value,node_id,link_id,dma,
    transport,imei,model,status; only code is required)."""
    text = (await request.body()).decode("utf-8", errors="replace")
    records = await run_in_threadpool(service.parse_sensor_csv, text)
    async with db_pool(request).connection() as conn:
        n = await service.aregister_sensors(conn=conn, records=records)
    return Registered(registered=n)


@router.get("", response_model=list[SensorOut], dependencies=[Depends(READERS)])
async def list_sensors(
    conn: DbConn,
    kind: Annotated[str | None, Query(max_length=2)] = None,
    dma: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    return await service.list_sensors(conn=conn, kind=kind, dma=dma, limit=limit, offset=offset)


@router.get("/{code}", response_model=SensorOut, dependencies=[Depends(READERS)])
async def get_sensor(conn: DbConn, code: str) -> dict[str, Any]:
    return await service.get_sensor(conn=conn, code=code)
