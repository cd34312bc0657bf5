"""HTTP: carrier-platform push callbacks (NB-IoT) and the quarantine summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from waternet.auth.deps import require_roles
from waternet.db.deps import DbConn
from waternet.errors import AuthError, ServiceUnavailable
from waternet.ingest import repository
from waternet.ingest.formats import onenet, platforms
from waternet.ingest.push import PushWriter
from waternet.ingest.schemas import PushAck, QuarantineGroup
from waternet.ingest.spool import SpoolFull

router = APIRouter(prefix="/api/v1/ingest", tags=["telemetry"])
READERS = require_roles("dispatcher", "analyst", "service", "crew")
WRITERS = require_roles("service")


def _push_writer(request: Request) -> PushWriter:
    """The process's push writer (made by the app factory, closed at shutdown)."""
    writer: PushWriter = request.app.state.push_writer
    return writer


async def _store_push(request: Request, platform: str) -> PushAck:
    body = await request.body()
    writer = _push_writer(request)

    def work() -> Any:
        return writer.store(platform=platform, path=request.url.path, body=body)

    try:
        r = await run_in_threadpool(work)
    except SpoolFull:
        raise ServiceUnavailable("storage unavailable, retry later") from None
    writer.flush_latest_soon()
    return PushAck(
        stored=r.stored, duplicates=r.duplicates, quarantined=r.quarantined, spooled=r.spooled
    )


@router.get(
    "/quarantine",
    response_model=list[QuarantineGroup],
    dependencies=[Depends(require_roles("analyst", "service"))],
)
async def quarantine_summary(conn: DbConn) -> list[dict[str, Any]]:
    """Quarantined input by reason and source."""
    return await repository.quarantine_summary(conn)


@router.post("/ctwing", response_model=PushAck)
async def ctwing_push(request: Request, key: Annotated[str, Query(max_length=200)]) -> PushAck:
    """CTWing/AEP subscription push. Authenticated by the key configured in the push URL
    (WATERNET_CTWING_KEY). Answers 200 only once the readings are durable."""
    expected = request.app.state.settings.ctwing_key
    if not expected or not platforms.signature_matches(expected, key):
        raise AuthError("bad or missing push key")
    return await _store_push(request, "ctwing")


@router.get("/onenet", response_class=PlainTextResponse)
async def onenet_verify(
    request: Request,
    msg: Annotated[str, Query(max_length=1000)],
    nonce: Annotated[str, Query(max_length=100)],
    signature: Annotated[str, Query(max_length=200)],
) -> str:
    """OneNET URL verification: answer ``msg`` when the signature matches the token."""
    token = request.app.state.settings.onenet_token
    if not token or not onenet.onenet_verify_url(
        msg=msg, nonce=nonce, signature=signature, token=token
    ):
        raise AuthError("bad signature")
    return msg


@router.post("/onenet", response_model=PushAck)
async def onenet_push(request: Request) -> PushAck:
    """OneNET data push (both SDK formats), authenticated by its signature (WATERNET_ONENET_TOKEN).
    A push with a bad signature is quarantined as evidence and refused with 401."""
    token = request.app.state.settings.onenet_token
    if not token:
        raise AuthError("OneNET pushes are not configured (WATERNET_ONENET_TOKEN)")
    body = await request.body()
    if not onenet.onenet_verify_body(body, token=token):
        await _store_push(request, "onenet")  # quarantined with reason bad_signature
        raise AuthError("bad signature")
    return await _store_push(request, "onenet")
