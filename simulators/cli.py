"""Command line: ``python -m simulators scenario|fleet|load`` and ``waternet simulate ...``.

``register(app)`` adds the same commands as a ``simulate`` group to the ``waternet`` CLI.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from simulators.events import BackgroundLeakage, Burst, Closure
from simulators.faults import FAULT_TYPES, FaultPlan
from simulators.fleet import FleetConfig, Stream, build_stream
from simulators.hydraulics import (
    NoiseModel,
    ScenarioConfig,
    ScenarioResult,
    load_network,
    parse_demo_spec,
    run_scenario,
)
from simulators.sites import read_sites, sites_from_network

app = typer.Typer(
    help="Simulated sensor fleets: hydraulic scenarios, fleets, load.",
    no_args_is_help=True,
    add_completion=False,
)


def register(parent: typer.Typer) -> None:
    """Add the ``simulate`` command group to the waternet CLI."""
    parent.add_typer(app, name="simulate")


def parse_burst(text: str) -> Burst:
    """``PIPE@START_S[:AREA_M2[:GROWTH_S]]``, e.g. ``151@21600:0.002:1800``."""
    pipe, _, rest = text.partition("@")
    parts = rest.split(":") if rest else ["3600"]
    return Burst(
        pipe=pipe,
        start_s=int(float(parts[0])),
        hole_area_m2=float(parts[1]) if len(parts) > 1 else 0.002,
        growth_s=int(float(parts[2])) if len(parts) > 2 else 0,
    )


def parse_closure(text: str) -> Closure:
    """``LINK[,LINK...]@CLOSE_S[-OPEN_S]``, e.g. ``151,152@28800-36000``."""
    links, _, times = text.partition("@")
    close, _, reopen = times.partition("-")
    return Closure(
        links=tuple(x for x in links.split(",") if x),
        t_close=int(float(close)),
        t_open=int(float(reopen)) if reopen else None,
    )


def parse_faults(text: str) -> FaultPlan:
    """``none``, ``every[:N]``, or ``type=N,type=N`` (types: see FAULT_TYPES)."""
    if text in ("", "none"):
        return FaultPlan()
    if text.startswith("every"):
        _, _, n = text.partition(":")
        return FaultPlan.every(int(n) if n else 3)
    counts = {}
    for item in text.split(","):
        name, _, n = item.partition("=")
        if name not in FAULT_TYPES:
            raise typer.BadParameter(f"unknown fault {name!r}; known: {', '.join(FAULT_TYPES)}")
        counts[name] = int(n or 1)
    return FaultPlan.from_counts(counts)


def default_start(duration_s: int) -> datetime:
    """Midnight UTC far enough back that the whole period is in the past (a replay)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=max(1, -(-duration_s // 86400)))


Network = Annotated[
    str,
    typer.Option(
        help="WNTR network name (Net1, Net3, ky10...), .inp "
        "path, or demo:small|medium|large[:CITY_SEED]"
    ),
]
Seed = Annotated[int, typer.Option(help="seed: same seed, same messages")]
Duration = Annotated[int, typer.Option(help="simulated seconds")]
Step = Annotated[int, typer.Option(help="hydraulic step, 60..900 s")]
Start = Annotated[str, typer.Option(help="ISO start time (default: midnight UTC, in the past)")]
Bursts = Annotated[list[str] | None, typer.Option("--burst", help="PIPE@T[:AREA[:GROWTH_S]]")]
Closes = Annotated[list[str] | None, typer.Option("--close", help="LINKS@T_CLOSE[-T_OPEN]")]
Faults = Annotated[str, typer.Option(help="none | every[:N] | type=N,...")]
Out = Annotated[Path, typer.Option(help="output folder")]
PushWindow = Annotated[int, typer.Option(help="NB-IoT pushes spread over this many s")]


def _scenario(
    network: str,
    seed: int,
    duration: int,
    step: int,
    sample: int,
    start: str,
    burst: list[str] | None,
    close: list[str] | None,
    background: float,
    exact: bool,
    sites: Path | None,
) -> ScenarioResult:
    t0 = datetime.fromisoformat(start) if start else default_start(duration)
    cfg = ScenarioConfig(
        network=network,
        start=t0,
        duration_s=duration,
        step_s=step,
        sample_s=sample,
        seed=seed,
        bursts=[parse_burst(b) for b in burst or []],
        closures=[parse_closure(c) for c in close or []],
        background=BackgroundLeakage(area_per_km_m2=background) if background > 0 else None,
        noise=NoiseModel.exact() if exact else NoiseModel(),
    )
    if network.startswith("demo:"):
        from simulators.democity import demo_city_inputs

        size, city_seed = parse_demo_spec(network)
        demo = demo_city_inputs(size, seed=city_seed)
        cfg.customer_classes = demo.classes
        site_list = demo.sites
    else:
        site_list = sites_from_network(load_network(network, seed=seed), seed=seed)
    return run_scenario(cfg, read_sites(sites) if sites else site_list)


def _write_truth(out: Path, result: ScenarioResult, stream: Stream | None) -> None:
    truth = {
        "scenario": result.ground_truth(),
        "fleet": stream.truth() if stream is not None else None,
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n")


@app.command()
def scenario(
    network: Network = "Net3",
    seed: Seed = 0,
    duration: Duration = 86400,
    step: Step = 60,
    sample: Annotated[int, typer.Option(help="sensor interval, s")] = 60,
    start: Start = "",
    burst: Bursts = None,
    close: Closes = None,
    background: Annotated[float, typer.Option(help="leak area m2 per km (0: none)")] = 0.0,
    exact: Annotated[bool, typer.Option(help="no sensor noise, bias, quantisation")] = False,
    sites: Annotated[Path | None, typer.Option(help="sites JSON (default: picked)")] = None,
    faults: Faults = "none",
    push_window: PushWindow = 86400,
    out: Out = Path("sim-out"),
) -> None:
    """Run hydraulics and events; write readings, sites, the stream's expected outcomes and
    the ground truth to OUT (nothing is sent)."""
    result = _scenario(
        network, seed, duration, step, sample, start, burst, close, background, exact, sites
    )
    paths = result.write(out)
    stream = build_stream(
        result, FleetConfig(seed=seed, faults=parse_faults(faults), push_window_s=push_window)
    )
    paths.update(stream.write(out))
    _write_truth(out, result, stream)
    typer.echo(
        json.dumps({k: str(v) for k, v in paths.items()} | {"messages": len(stream.messages)})
    )


@app.command()
def fleet(
    network: Network = "Net3",
    seed: Seed = 0,
    duration: Duration = 86400,
    step: Step = 60,
    start: Start = "",
    burst: Bursts = None,
    close: Closes = None,
    faults: Faults = "none",
    mqtt: Annotated[str | None, typer.Option(help="broker URL, mqtt://host:port")] = None,
    http: Annotated[str | None, typer.Option(help="ingest base URL for NB-IoT pushes")] = None,
    ctwing_url: Annotated[str | None, typer.Option(help="CTWing push URL (overrides)")] = None,
    onenet_url: Annotated[str | None, typer.Option(help="OneNET push URL (overrides)")] = None,
    ctwing_key: Annotated[str | None, typer.Option(help="?key= for the CTWing URL")] = None,
    onenet_token: Annotated[str, typer.Option(help="OneNET push token")] = "waternet-sim-token",
    speed: Annotated[float, typer.Option(help="1 real time, 60 = 60x, 0 = flat out")] = 60.0,
    push_window: PushWindow = 86400,
    topic_prefix: Annotated[str, typer.Option(help="prefix for every topic (tests)")] = "",
    sites: Annotated[Path | None, typer.Option(help="sites JSON (default: picked)")] = None,
    out: Out = Path("sim-out"),
) -> None:
    """Simulate and publish a fleet over MQTT and the NB-IoT HTTP endpoints."""
    from simulators.aiopublisher import AioMqttPublisher
    from simulators.publishers import HttpPublisher, default_http_urls, replay

    result = _scenario(network, seed, duration, step, 60, start, burst, close, 0.0, False, sites)
    stream = build_stream(
        result,
        FleetConfig(
            seed=seed,
            faults=parse_faults(faults),
            push_window_s=push_window,
            onenet_token=onenet_token,
        ),
    )
    result.write(out)
    stream.write(out)
    _write_truth(out, result, stream)
    urls = default_http_urls(http, ctwing_key=ctwing_key) if http else {}
    if ctwing_url:
        urls["ctwing"] = ctwing_url
    if onenet_url:
        urls["onenet"] = onenet_url
    mqtt_pub = (
        AioMqttPublisher(mqtt, client_id=f"wnsim-fleet-{uuid.uuid4().hex[:8]}") if mqtt else None
    )
    http_pub = HttpPublisher(urls) if urls else None
    try:
        stats = replay(
            stream.messages,
            speed=speed,
            mqtt_pub=mqtt_pub,
            http_pub=http_pub,
            topic_prefix=topic_prefix,
        )
    finally:
        if mqtt_pub:
            mqtt_pub.close()
        if http_pub:
            http_pub.close()
    typer.echo(
        json.dumps(
            {
                "sent": stats.messages,
                "by_transport": dict(stats.by_transport),
                "wall_s": round(stats.wall_s, 3),
                "rate": round(stats.rate, 1),
                "http_status": dict(http_pub.result.status) if http_pub else {},
            }
        )
    )


@app.command()
def load(
    mqtt: Annotated[str, typer.Option(help="broker URL")] = "mqtt://127.0.0.1:1883",
    meters: Annotated[int, typer.Option()] = 1_000_000,
    pressure: Annotated[int, typer.Option()] = 10_000,
    rate: Annotated[float, typer.Option(help="readings/s (0 = flat out)")] = 60_000.0,
    batch: Annotated[int, typer.Option(help="readings per message (1 = single)")] = 100,
    duration: Annotated[float, typer.Option(help="seconds")] = 60.0,
    qos: Annotated[int, typer.Option()] = 1,
    client: Annotated[str, typer.Option(help="fast | paho")] = "fast",
    inflight: Annotated[int, typer.Option(help="QoS 1 messages in flight")] = 1000,
    topic_prefix: Annotated[str, typer.Option()] = "",
    generate_only: Annotated[bool, typer.Option(help="measure generation only")] = False,
    registry: Annotated[Path | None, typer.Option(help="write sensors CSV, exit")] = None,
) -> None:
    """Virtual fleet at a target rate (no hydraulics); prints the achieved rate as JSON."""
    from simulators.load import LoadConfig, measure_generation, run_load, write_registry

    cfg = LoadConfig(
        meters=meters,
        pressure=pressure,
        rate=rate,
        batch=batch,
        duration_s=duration,
        qos=qos,
        client=client,
        max_inflight=inflight,
        topic_prefix=topic_prefix,
    )
    if registry is not None:
        typer.echo(json.dumps({"sensors": write_registry(registry, cfg), "path": str(registry)}))
        return
    report = measure_generation(cfg) if generate_only else run_load(cfg, mqtt)
    typer.echo(report.text())


def main() -> None:
    app()
