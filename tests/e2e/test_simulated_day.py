"""A simulated day on the small demo city, with a burst and every fault type, through the MQTT
broker and the NB-IoT endpoints into ingest: stored plus quarantined equals the ground truth
exactly, and the burst's pressure drop is visible in the stored data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from simulators.aiopublisher import AioMqttPublisher
from simulators.democity import demo_city_inputs
from simulators.events import Burst, nearest_sites
from simulators.faults import FaultPlan
from simulators.fleet import FleetConfig, build_stream
from simulators.hydraulics import ScenarioConfig, run_scenario
from simulators.publishers import HttpPublisher, default_http_urls, replay

from tests.support.ingest import counts, make_worker, running, total, wait_until
from tests.support.server import serve
from waternet.config import load_settings
from waternet.sensors import service as sensors_service

CTWING_KEY = "e2e-ctwing-key"
ONENET_TOKEN = "e2e-onenet-token"
BURST_AT_S = 14 * 3600
RAW_INTERVAL_S = 3600  # CJ/T 188 meters on MQTT read their register on the hour


def test_simulated_day_matches_ground_truth(db_url: str, mqtt_url: str, tmp_path: Path) -> None:
    demo = demo_city_inputs("small", seed=7)
    start = (datetime.now(UTC) - timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    pipe = _burst_pipe(demo)
    cfg = ScenarioConfig(
        network="demo:small",
        start=start,
        duration_s=86400,
        step_s=300,
        sample_s=60,
        seed=11,
        bursts=[Burst(pipe=pipe, start_s=BURST_AT_S, hole_area_m2=0.01)],
        customer_classes=demo.classes,
    )
    result = run_scenario(cfg, demo.sites)
    stream = build_stream(
        result,
        FleetConfig(
            seed=11,
            faults=FaultPlan.every(3),
            onenet_token=ONENET_TOKEN,
            raw_interval_s=RAW_INTERVAL_S,
        ),
    )
    truth = stream.truth()
    assert set(truth["faults"]["counts"]) == {
        "dropout",
        "duplicate",
        "out_of_order",
        "clock_skew",
        "stuck",
        "flatline",
        "corrupt_frame",
        "malformed_json",
        "unknown_sensor",
        "gateway_offline",
    }
    sensors_service.register_sensors(
        db_url,
        [
            {"code": s.code, "imei": s.imei or None, "model": s.model or None, "dma": s.zone}
            for s in result.sites
        ],
    )
    settings = load_settings(
        database_url=db_url,
        mqtt_url=mqtt_url,
        state_dir=str(tmp_path / "api"),
        ctwing_key=CTWING_KEY,
        onenet_token=ONENET_TOKEN,
        jwt_secret="x" * 40,
    )
    worker = make_worker(db_url, mqtt_url, tmp_path / "worker")
    with serve(settings) as base, running(worker):
        mqtt_pub = AioMqttPublisher(mqtt_url, client_id=f"e2e-{uuid.uuid4().hex[:8]}")
        http_pub = HttpPublisher(default_http_urls(base, ctwing_key=CTWING_KEY))
        try:
            replay(stream.messages, speed=0, mqtt_pub=mqtt_pub, http_pub=http_pub)
        finally:
            mqtt_pub.close()
            http_pub.close()
        assert http_pub.result.failed == 0
        assert set(http_pub.result.status) == {200}, http_pub.result.status
        expected = truth["expected"]
        want = expected["stored"] + expected["quarantined"]
        assert wait_until(lambda: total(db_url) >= want, 120), (counts(db_url), expected)
        assert wait_until(lambda: worker.queue.empty(), 30)
    got = counts(db_url)
    assert got["stored"] == expected["stored"]
    assert got["quarantine"] == expected["quarantined_by_reason"]
    _assert_burst_visible(db_url, result, start)
    faulted = {f["sensor"] for f in stream.faults if "sensor" in f}
    raw = [s.code for s in result.sites if s.transport == "mqtt-raw" and s.code not in faulted]
    _assert_meter_clock_times(db_url, raw, start)


def _burst_pipe(demo: object) -> str:
    wn = demo.wn  # type: ignore[attr-defined]
    pipes = [(wn.get_link(n).diameter, n) for n in wn.pipe_name_list]
    # a large main carries a burst that the pressure sensors can see
    return sorted(pipes, reverse=True)[len(pipes) // 10][1]


def _assert_burst_visible(db_url: str, result: object, start: datetime) -> None:
    burst = result.config.bursts[0]  # type: ignore[attr-defined]
    node = burst.node
    near = nearest_sites(result.wn, node, result.sites, k=2)  # type: ignore[attr-defined]
    t_burst = start + timedelta(seconds=BURST_AT_S)
    with psycopg.connect(db_url) as conn:
        for site in near:
            code = site.code
            before, after = conn.execute(
                """
                SELECT avg(value) FILTER (WHERE ts >= %(t)s - interval '1 hour' AND ts < %(t)s),
                       avg(value) FILTER (WHERE ts >= %(t)s + interval '10 minutes'
                                            AND ts < %(t)s + interval '70 minutes')
                  FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.code = %(c)s
                """,
                {"t": t_burst, "c": code},
            ).fetchone()
            assert before is not None and after is not None, code
            assert before - after > 1.0, (code, before, after)


def _assert_meter_clock_times(db_url: str, codes: list[str], start: datetime) -> None:
    """CJ/T 188 meter clocks are local time without a zone: a register read at instant T is
    stored at T (UTC), not 8 hours off. The instants are the test's own: the scenario start and
    every RAW_INTERVAL_S of the simulated day."""
    assert codes
    want = {start + timedelta(seconds=t) for t in range(0, 86400 + 1, RAW_INTERVAL_S)}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT s.code, r.ts FROM readings r JOIN sensors s ON s.id = r.sensor_id "
            "WHERE s.code = ANY(%s)",
            (codes,),
        ).fetchall()
    assert len(rows) > len(codes)
    stray = sorted(
        {(code, ts.astimezone(UTC)) for code, ts in rows}
        - {(code, t) for code in codes for t in want}
    )
    assert not stray, stray[:5]
