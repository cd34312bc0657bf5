"""HTTP: the sensor registry, carrier-platform push callbacks (NB-IoT) and quarantine summary."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from waternet.api.deps import DbConn, require_roles
from waternet.errors import AuthError, NotFound, ServiceUnavailable
from waternet.ingest import repository, service
from waternet.ingest.formats import platforms
from waternet.ingest.spool import SpoolFull
from waternet.ingest.writer import Writer

router = APIRouter(tags=["telemetry"])
READERS = require_roles("dispatcher", "analyst", "service", "crew")
WRITERS = require_roles("service")


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


class PushAck(BaseModel):
    result: str = "ok"
    stored: int
    duplicates: int
    quarantined: int
    spooled: int


def _push_writer(request: Request) -> tuple[Writer, threading.Lock]:
    state = request.app.state
    if getattr(state, "push_writer", None) is None:
        state.push_writer = service.make_writer(state.settings, name="http")
        state.push_lock = threading.Lock()
    return state.push_writer, state.push_lock


async def _store_push(request: Request, platform: str) -> PushAck:
    body = await request.body()
    writer, lock = _push_writer(request)

    def work() -> Any:
        with lock:
            return service.store_push(writer, platform=platform, path=request.url.path, body=body)

    try:
        r = await run_in_threadpool(work)
    except SpoolFull:
        raise ServiceUnavailable("storage unavailable, retry later") from None
    return PushAck(
        stored=r.stored, duplicates=r.duplicates, quarantined=r.quarantined, spooled=r.spooled
    )


@router.post("/api/v1/sensors", response_model=Registered, dependencies=[Depends(WRITERS)])
async def register_sensors(
    request: Request, sensors: Annotated[list[SensorIn], Body(min_length=1, max_length=100_000)]
) -> Registered:
    """Register or update sensors (all-or-nothing; every problem is listed)."""
    url = request.app.state.settings.database_url
    records = [s.model_dump() for s in sensors]
    n = await run_in_threadpool(service.register_sensors, url, records)
    return Registered(registered=n)


@router.post(
    "/api/v1/sensors/csv",
    response_model=Registered,
    dependencies=[Depends(WRITERS)],
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def register_sensors_csv(request: Request) -> Registered:
    """Bulk-load sensors from CSV (header: code,unit,min_value,max_value,node_id,link_id,dma,
    transport,imei,model,status; only code is required)."""
    text = (await request.body()).decode("utf-8", errors="replace")
    url = request.app.state.settings.database_url
    records = service.parse_sensor_csv(text)
    n = await run_in_threadpool(service.register_sensors, url, records)
    return Registered(registered=n)


@router.get("/api/v1/sensors", dependencies=[Depends(READERS)])
async def list_sensors(
    conn: DbConn,
    kind: Annotated[str | None, Query(max_length=2)] = None,
    dma: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    return await repository.list_sensors(conn, kind=kind, dma=dma, limit=limit, offset=offset)


@router.get("/api/v1/sensors/{code}", dependencies=[Depends(READERS)])
async def get_sensor(conn: DbConn, code: str) -> dict[str, Any]:
    row = await repository.get_sensor(conn, code)
    if row is None:
        raise NotFound(f"no sensor {code!r}")
    return row


@router.get(
    "/api/v1/ingest/quarantine", dependencies=[Depends(require_roles("analyst", "service"))]
)
async def quarantine_summary(conn: DbConn) -> list[dict[str, Any]]:
    """Quarantined input by reason and source."""
    return await repository.quarantine_summary(conn)


@router.post("/api/v1/ingest/ctwing", response_model=PushAck)
async def ctwing_push(request: Request, key: Annotated[str, Query(max_length=200)]) -> PushAck:
    """CTWing/AEP subscription push. Authenticated by the key configured in the push URL
    (WATERNET_CTWING_KEY). Answers 200 only once the readings are durable."""
    expected = request.app.state.settings.ctwing_key
    if not expected or not platforms.signature_matches(expected, key):
        raise AuthError("bad or missing push key")
    return await _store_push(request, "ctwing")


@router.get("/api/v1/ingest/onenet", response_class=PlainTextResponse)
async def onenet_verify(
    request: Request,
    msg: Annotated[str, Query(max_length=1000)],
    nonce: Annotated[str, Query(max_length=100)],
    signature: Annotated[str, Query(max_length=200)],
) -> str:
    """OneNET URL verification: answer ``msg`` when the signature matches the token."""
    token = request.app.state.settings.onenet_token
    if not token or not platforms.onenet_verify_url(
        msg=msg, nonce=nonce, signature=signature, token=token
    ):
        raise AuthError("bad signature")
    return msg


@router.post("/api/v1/ingest/onenet", response_model=PushAck)
async def onenet_push(request: Request) -> PushAck:
    """OneNET data push (both SDK formats), authenticated by its signature (WATERNET_ONENET_TOKEN).
    A push with a bad signature is quarantined as evidence and refused with 401."""
    token = request.app.state.settings.onenet_token
    if not token:
        raise AuthError("OneNET pushes are not configured (WATERNET_ONENET_TOKEN)")
    body = await request.body()
    if not platforms.onenet_verify_body(body, token=token):
        await _store_push(request, "onenet")  # quarantined with reason bad_signature
        raise AuthError("bad signature")
    return await _store_push(request, "onenet")


async def replay_loop(app: Any, *, interval: float = 5.0) -> None:
    """Background task: replay the HTTP writer's spool once the database is back."""
    while True:
        await asyncio.sleep(interval)
        writer = getattr(app.state, "push_writer", None)
        if writer is not None:
            lock = app.state.push_lock

            def work(w: Writer = writer, lk: threading.Lock = lock) -> None:
                with lk:
                    if w.spool.segments():
                        w.replay()
                    w.maybe_flush_latest()

            await run_in_threadpool(work)
