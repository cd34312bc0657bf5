"""What `waternet demo` runs besides the API: the demo city as the active network version, its
sensors registered, an ingest worker, and a simulated fleet publishing live with a burst."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from waternet.config import Settings

log = logging.getLogger(__name__)
DEMO_CTWING_KEY = "demo-ctwing-key"
DEMO_ONENET_TOKEN = "demo-onenet-token"
BURST_AFTER_S = 300


class _Stopped(Exception):
    pass


@dataclass
class DemoRuntime:
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    worker: Any = None
    burst_pipe: str | None = None

    def shutdown(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        if self.worker is not None:
            self.worker.stop()


def ensure_network(settings: Settings, *, size: str) -> int:
    """Make the demo city the active network version (imported once per database and size)."""
    from waternet.demo.city import build_demo_city
    from waternet.network import service as network_service

    assert settings.database_url
    name = f"demo-city-{size}"
    for v in network_service.list_versions(settings.database_url):
        if v["name"] == name:
            if not v["active"]:
                network_service.activate(settings.database_url, int(v["id"]))
            return int(v["id"])
    model = build_demo_city(size)  # type: ignore[arg-type]
    model.name = name
    version_id, _report = network_service.import_model(
        settings.database_url, model=model, source=f"demo-city:{size}", created_by="demo"
    )
    return int(version_id)


def _position(model: Any, element: str) -> tuple[float | None, float | None]:
    """lon/lat of a node, or of a link's midpoint (between its end nodes)."""
    node = model.node_by_id.get(element)
    if node is not None:
        return node.lon, node.lat
    link = model.link_by_id.get(element)
    if link is None:
        return None, None
    a, b = model.node_by_id[link.start], model.node_by_id[link.end]
    if None in (a.lon, a.lat, b.lon, b.lat):
        return None, None
    return (a.lon + b.lon) / 2, (a.lat + b.lat) / 2


def register_sensors(settings: Settings, demo: Any) -> int:
    """Register the fleet's sensors, and the flow meters on each DMA's boundary (the water
    balance of a DMA sums them)."""
    from waternet.sensors import service as sensors_service

    assert settings.database_url
    records = []
    for s in demo.sites:
        lon, lat = _position(demo.model, s.element)
        on_link = s.element in demo.model.link_by_id
        records.append(
            {
                "code": s.code,
                "imei": s.imei or None,
                "model": s.model or None,
                "dma": s.zone,
                "node_id": None if on_link else s.element,
                "link_id": s.element if on_link else None,
                "lon": lon,
                "lat": lat,
            }
        )
    n = sensors_service.register_sensors(settings.database_url, records)
    published = {s.code for s in demo.sites}
    meters = [
        (d.code, m.sensor, m.inflow)
        for d in demo.model.dmas
        for m in d.boundary_meters
        if m.sensor in published
    ]
    sensors_service.register_boundary_meters(settings.database_url, meters)
    return n


def start(
    settings: Settings, *, size: str, api_base: str, embedded_broker: bool = False
) -> DemoRuntime:
    """Start the ingest worker and the live fleet (threads); returns a handle to stop them."""
    from simulators.democity import demo_city_inputs

    from waternet.ingest.mqtt.worker import IngestWorker
    from waternet.ingest.service import make_writer

    rt = DemoRuntime()
    demo = demo_city_inputs(size, seed=7)
    n = register_sensors(settings, demo)
    log.info("demo sensors registered", extra={"sensors": n})
    assert settings.mqtt is not None
    rt.worker = IngestWorker(
        broker=settings.mqtt,
        writer=make_writer(settings, name="demo-ingest"),
        client_id="waternet-demo-ingest",
        # the embedded amqtt broker speaks MQTT 3.1.1 without shared subscriptions
        share_group=None if embedded_broker else settings.ingest_share_group,
        batch_size=settings.ingest_batch_size,
        batch_ms=settings.ingest_batch_ms,
        queue_max=settings.ingest_queue_max,
        protocol="311" if embedded_broker else "auto",
    )
    rt.worker.start()
    fleet = threading.Thread(
        target=_run_fleet,
        args=(rt, settings, demo, api_base, size),
        name="demo-fleet",
        daemon=True,
    )
    fleet.start()
    rt.threads.append(fleet)
    return rt


def _burst_pipe(wn: Any) -> str:
    pipes = sorted((wn.get_link(p).diameter, p) for p in wn.pipe_name_list)
    return str(pipes[len(pipes) * 3 // 4][1])


def _run_fleet(rt: DemoRuntime, settings: Settings, demo: Any, api_base: str, size: str) -> None:
    from simulators.aiopublisher import AioMqttPublisher
    from simulators.events import Burst
    from simulators.fleet import FleetConfig, build_stream
    from simulators.hydraulics import ScenarioConfig, run_scenario
    from simulators.publishers import HttpPublisher, default_http_urls, replay

    start = datetime.now(UTC).replace(second=0, microsecond=0)
    rt.burst_pipe = _burst_pipe(demo.wn)
    cfg = ScenarioConfig(
        network=f"demo:{size}",
        start=start,
        duration_s=3 * 3600,
        step_s=60,
        sample_s=60,
        seed=7,
        bursts=[Burst(pipe=rt.burst_pipe, start_s=BURST_AFTER_S, hole_area_m2=0.01)],
        customer_classes=demo.classes,
    )
    try:
        result = run_scenario(cfg, demo.sites)
        stream = build_stream(
            result,
            FleetConfig(
                seed=7,
                onenet_token=settings.onenet_token or DEMO_ONENET_TOKEN,
                meter_tz=settings.timezone,  # the zone ingest reads CJ/T 188 meter clocks in
            ),
        )
    except Exception:  # the demo keeps serving the map even if the fleet cannot start
        log.exception("demo fleet could not be simulated")
        return
    log.info(
        "demo fleet publishing live",
        extra={
            "messages": len(stream.messages),
            "burst_pipe": rt.burst_pipe,
            "burst_at": (start + timedelta(seconds=BURST_AFTER_S)).isoformat(),
        },
    )
    assert settings.mqtt_url
    mqtt_pub = AioMqttPublisher(settings.mqtt_url, client_id=f"demo-fleet-{uuid.uuid4().hex[:6]}")
    http_pub = HttpPublisher(
        default_http_urls(api_base, ctwing_key=settings.ctwing_key or DEMO_CTWING_KEY)
    )

    def sleep(seconds: float) -> None:
        if rt.stop.wait(seconds):
            raise _Stopped

    try:
        replay(stream.messages, speed=1.0, mqtt_pub=mqtt_pub, http_pub=http_pub, sleep=sleep)
    except _Stopped:
        pass
    finally:
        mqtt_pub.close()
        http_pub.close()
