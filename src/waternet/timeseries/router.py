"""HTTP API of the time-series store. Times in and out are ISO-8601 with offsets; a time
without an offset is refused (422). Output times are in the utility's zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from waternet.auth.deps import require_roles
from waternet.db.deps import DbConn
from waternet.errors import ValidationFailed
from waternet.timeseries import service as svc
from waternet.timeseries.analytics import service as bsvc
from waternet.timeseries.schemas import (
    BalanceOut,
    ConsumptionOut,
    LatestOut,
    NightFlowOut,
    QualityOut,
    ReadingsOut,
)
from waternet.timeseries.times import check_range

router = APIRouter(prefix="/api/v1", tags=["time series"])

READERS = require_roles("analyst", "dispatcher", "crew", "service")
ANALYSTS = require_roles("analyst", "dispatcher", "service")

From = Annotated[datetime, Query(alias="from", description="ISO-8601 with offset")]
To = Annotated[datetime, Query(alias="to", description="ISO-8601 with offset (exclusive)")]


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise ValidationFailed(
            "bad bbox",
            details=[{"field": "bbox", "problem": "min_lon,min_lat,max_lon,max_lat"}],
        )
    return parts  # type: ignore[return-value,unused-ignore]


@router.get("/sensors/{code}/readings", response_model=ReadingsOut, dependencies=[Depends(READERS)])
async def get_readings(
    code: str,
    conn: DbConn,
    start: From,
    end: To,
    bucket: Annotated[str | None, Query(description="raw, 1m, 15m, 1h, 1d; auto if absent")] = None,
    max_points: Annotated[int, Query(ge=1, le=svc.HARD_MAX_POINTS)] = svc.DEFAULT_MAX_POINTS,
) -> dict[str, Any]:
    return await svc.readings(
        conn, code=code, start=start, end=end, bucket=bucket, max_points=max_points
    )


@router.get(
    "/sensors/{code}/readings.csv",
    dependencies=[Depends(ANALYSTS)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_readings(
    code: str,
    request: Request,
    conn: DbConn,
    start: From,
    end: To,
    bucket: Annotated[str | None, Query(description="raw (default), 1m, 15m, 1h, 1d")] = None,
) -> StreamingResponse:
    # validation and look-ups fail here, before the 200 starts
    check_range(start, end)
    await svc.sensor_or_404(conn, code)
    pool = request.app.state.pool

    async def body() -> AsyncIterator[str]:
        # its own connection: the request's one is released when the handler returns
        async with pool.connection() as own:
            async for chunk in svc.export_csv(own, code=code, start=start, end=end, bucket=bucket):
                yield chunk

    return StreamingResponse(
        body(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{code}.csv"'},
    )


@router.get("/latest", response_model=LatestOut, dependencies=[Depends(READERS)])
async def get_latest(
    conn: DbConn,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    dma: str | None = None,
    kind: Annotated[str | None, Query(description="kind code (PT) or name (pressure)")] = None,
    limit: Annotated[int, Query(ge=1, le=50000)] = 20000,
) -> Response:
    # JSON text built by the database: returned as is (LatestOut documents it)
    doc = await svc.latest_values_json(conn, bbox=_bbox(bbox), dma=dma, kind=kind, limit=limit)
    return Response(doc, media_type="application/json")


@router.get("/dmas/{dma}/balance", response_model=BalanceOut, dependencies=[Depends(ANALYSTS)])
async def get_balance(
    dma: str,
    conn: DbConn,
    start: From,
    end: To,
    step: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
) -> dict[str, Any]:
    return await bsvc.dma_balance(conn, dma=dma, start=start, end=end, step=step)


@router.get("/dmas/{dma}/night-flow", response_model=NightFlowOut, dependencies=[Depends(ANALYSTS)])
async def get_night_flow(
    dma: str,
    conn: DbConn,
    first: Annotated[date, Query(alias="from", description="first local day")],
    last: Annotated[date, Query(alias="to", description="last local day (inclusive)")],
    window: Annotated[int, Query(ge=1, le=90)] = 7,
) -> dict[str, Any]:
    return await bsvc.night_flow(conn, dma=dma, first=first, last=last, window=window)


@router.get(
    "/meters/{code}/consumption", response_model=ConsumptionOut, dependencies=[Depends(ANALYSTS)]
)
async def get_meter_consumption(
    code: str,
    conn: DbConn,
    start: From,
    end: To,
    step: Annotated[str, Query(pattern="^(hour|day)$")] = "day",
) -> dict[str, Any]:
    return await bsvc.meter_consumption(conn, code=code, start=start, end=end, step=step)


@router.get(
    "/customers/{customer}/consumption",
    response_model=ConsumptionOut,
    dependencies=[Depends(ANALYSTS)],
)
async def get_customer_consumption(
    customer: str,
    conn: DbConn,
    start: From,
    end: To,
    step: Annotated[str, Query(pattern="^(hour|day)$")] = "day",
) -> dict[str, Any]:
    return await bsvc.meter_consumption(conn, customer=customer, start=start, end=end, step=step)


@router.get("/quality", response_model=QualityOut, dependencies=[Depends(ANALYSTS)])
async def get_quality(
    conn: DbConn,
    start: From,
    end: To,
    dma: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=50000)] = 20000,
) -> dict[str, Any]:
    return await svc.quality_report(conn, start=start, end=end, dma=dma, kind=kind, limit=limit)
