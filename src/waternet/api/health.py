"""Health, readiness and Prometheus metrics: the only endpoints without a token."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from waternet.api.schemas import Health, Readiness
from waternet.config import MqttUrl
from waternet.ingest.mqtt import wire

router = APIRouter(tags=["operations"])
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
PROBE_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _broker_check(mqtt: MqttUrl) -> str:
    """Speak MQTT 3.1.1 to the broker (CONNECT, wait for CONNACK, DISCONNECT) rather than open
    and drop a socket: brokers log a dropped socket as a client error (amqtt at ERROR)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                mqtt.host, mqtt.port, ssl=ssl.create_default_context() if mqtt.tls else None
            )
            try:
                writer.write(
                    wire.connect_packet(
                        client_id=f"waternet-readyz-{uuid.uuid4().hex[:8]}",
                        v5=False,
                        clean_start=True,
                        keepalive=10,
                        username=mqtt.username,
                        password=mqtt.password,
                    )
                )
                await writer.drain()
                decoder = wire.Decoder(v5=False, max_packet=1024)
                packets: list[tuple[int, int, bytes]] = []
                while not packets:
                    data = await reader.read(1024)
                    if not data:
                        return "unreachable: closed without CONNACK"
                    packets = decoder.feed(data)[1]
                kind, _flags, body = packets[0]
                if kind != wire.CONNACK:
                    return "unreachable: not an MQTT broker"
                code = wire.parse_connack(body, v5=False).code
                if code:
                    return f"refused: CONNACK return code {code}"
                writer.write(wire.DISCONNECT_PACKET)
                await writer.drain()
                return "ok"
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except TimeoutError:
        return "unreachable: no CONNACK in time"
    except (OSError, wire.ProtocolError) as exc:
        return f"unreachable: {type(exc).__name__}"


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready (which checks failed)"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure as not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    mqtt = request.app.state.settings.mqtt
    if mqtt is None:
        checks["broker"] = "not configured"
    else:
        checks["broker"] = await _broker_check(mqtt)
    ready = checks["database"] == "ok" and checks["broker"] in ("ok", "not configured")
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
