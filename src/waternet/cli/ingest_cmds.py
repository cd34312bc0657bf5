"""Commands of the ingest domain: ``waternet ingest`` and ``waternet sensors ...``."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from waternet.cli.core import require_db_url, setup_logging
from waternet.config import get_settings
from waternet.errors import ConfigError, ServiceUnavailable

sensors_app = typer.Typer(help="The sensor registry.", no_args_is_help=True)


def ingest(
    stats: Annotated[bool, typer.Option("--stats", help="Print throughput every 5 s")] = False,
    client_id: Annotated[str | None, typer.Option(help="MQTT session id of this worker")] = None,
    protocol: Annotated[str, typer.Option(help="auto | 5 | 311")] = "auto",
    metrics_port: Annotated[int, typer.Option(help="Prometheus port (0: none)")] = 0,
    duration: Annotated[float, typer.Option(help="Stop after N seconds (0: run)")] = 0.0,
    share: Annotated[
        bool,
        typer.Option(
            "--share/--no-share",
            help="MQTT 5 shared subscription (WATERNET_INGEST_SHARE_GROUP); --no-share: a plain "
            "persistent subscription, for one worker on a broker that does not restore shared "
            "subscriptions after a restart (docs/scaling.md)",
        ),
    ] = True,
) -> None:
    """Run an ingest worker: MQTT (shared subscription) into the database, nothing lost."""
    from prometheus_client import start_http_server

    from waternet.ingest.mqtt.worker import IngestWorker
    from waternet.ingest.service import make_writer

    setup_logging()
    settings = get_settings()
    require_db_url()
    if settings.mqtt is None:
        raise ConfigError("WATERNET_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
    if protocol not in ("auto", "5", "311"):
        raise ConfigError("--protocol must be auto, 5 or 311")
    cid = client_id or settings.ingest_client_id
    worker = IngestWorker(
        broker=settings.mqtt,
        writer=make_writer(settings, name=cid),
        client_id=cid,
        share_group=settings.ingest_share_group if share else None,
        batch_size=settings.ingest_batch_size,
        batch_ms=settings.ingest_batch_ms,
        queue_max=settings.ingest_queue_max,
        protocol=protocol,
    )
    if metrics_port:
        start_http_server(metrics_port, addr=settings.http_host)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    typer.echo(f"ingest worker {cid} connected to {settings.mqtt.host}:{settings.mqtt.port}")
    started = time.monotonic()
    while not stop.wait(5.0 if stats else 0.5):
        if stats:
            typer.echo(json.dumps({"worker": cid, **worker.stats.as_dict()}))
        if (duration and time.monotonic() - started >= duration) or worker.failed:
            break
    worker.stop()
    typer.echo(json.dumps({"worker": cid, "final": True, **worker.stats.as_dict()}))
    if worker.failed is not None:  # e.g. a refused subscription: exit non-zero, loudly
        raise ServiceUnavailable(f"ingest worker stopped: {worker.failed}")


def sensors_load(
    path: Annotated[Path, typer.Argument(help="CSV with a header; only 'code' is required")],
) -> None:
    """Register or update sensors from a CSV file (all-or-nothing)."""
    from waternet.sensors import service as sensors_service

    url = require_db_url()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    n = sensors_service.register_sensors(url, sensors_service.parse_sensor_csv(text))
    typer.echo(f"{n} sensors registered")


def sensors_add(
    code: str,
    imei: Annotated[str | None, typer.Option(help="NB-IoT module IMEI")] = None,
    dma: Annotated[str | None, typer.Option()] = None,
    node: Annotated[str | None, typer.Option(help="Network node id")] = None,
    link: Annotated[str | None, typer.Option(help="Network link id")] = None,
    model: Annotated[str | None, typer.Option(help="Meter/sensor model id")] = None,
) -> None:
    """Register one sensor (kind and unit follow from the code)."""
    from waternet.sensors import service as sensors_service

    url = require_db_url()
    rec = {"code": code, "imei": imei, "dma": dma, "node_id": node, "link_id": link, "model": model}
    sensors_service.register_sensors(url, [rec])
    typer.echo(f"sensor {code} registered")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    sensors_app.command("load")(sensors_load)
    sensors_app.command("add")(sensors_add)
    app.add_typer(sensors_app, name="sensors")
    app.command("rollups-refresh")(rollups_refresh)
    app.command("maintenance")(maintenance)


def rollups_refresh() -> None:
    """Refresh every dirty rollup bucket now (the API process does it continuously)."""
    from waternet.timeseries.rollups import refresh_database

    n = refresh_database(require_db_url())
    typer.echo(f"{n} dirty buckets refreshed")


def maintenance() -> None:
    """Create partitions ahead (plain PostgreSQL) and apply the retention policy (run daily)."""
    from waternet.timeseries.lifecycle import run_maintenance

    report = run_maintenance(require_db_url())
    typer.echo(str(report))
