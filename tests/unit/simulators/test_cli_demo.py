"""CLI commands and the demo city as simulation input."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from simulators.cli import app, parse_burst, parse_closure, parse_faults, register
from simulators.democity import demo_city_inputs
from simulators.faults import FaultPlan
from simulators.fleet import FleetConfig, build_stream
from simulators.hydraulics import ScenarioConfig, run_scenario
from typer.testing import CliRunner

from tests.unit.simulators.conftest import START


def test_parsers() -> None:
    b = parse_burst("151@21600:0.003:1800")
    assert (b.pipe, b.start_s, b.hole_area_m2, b.growth_s) == ("151", 21600, 0.003, 1800)
    c = parse_closure("12,21@10800-14400")
    assert c.links == ("12", "21") and (c.t_close, c.t_open) == (10800, 14400)
    assert parse_closure("12@60").t_open is None
    assert parse_faults("every:2") == FaultPlan.every(2)
    assert parse_faults("dropout=4,duplicate=1") == FaultPlan(dropout=4, duplicate=1)


def test_scenario_command_writes_readings_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "scenario",
            "--network",
            "Net1",
            "--duration",
            "7200",
            "--burst",
            "21@3600:0.001",
            "--faults",
            "every:1",
            "--start",
            "2025-03-01T00:00:00+00:00",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["scenario"]["events"]["bursts"][0]["pipe"] == "21"
    assert truth["fleet"]["faults"]["counts"]["duplicate"] == 1
    for name in ("readings.csv", "sites.json", "expected.jsonl", "fleet.json"):
        assert (out / name).stat().st_size > 0


def test_register_adds_a_simulate_group() -> None:
    parent = typer.Typer()

    @parent.command()
    def version() -> None:
        typer.echo("0")

    register(parent)
    res = CliRunner().invoke(
        parent, ["simulate", "load", "--generate-only", "--meters", "1000", "--pressure", "10"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["readings"] > 0


def test_demo_city_sites_and_a_short_scenario() -> None:
    demo = demo_city_inputs("small", seed=7, max_meters=200)
    kinds = {s.kind for s in demo.sites}
    assert kinds == {"pressure", "flow", "level", "meter"}
    nodes, links = set(demo.wn.node_name_list), set(demo.wn.link_name_list)
    for s in demo.sites:
        assert (s.element in links) if s.kind == "flow" else (s.element in nodes)
    codes = {s.code for s in demo.sites}
    assert codes <= {s.code for s in demo.model.sensors}
    assert set(demo.classes.values()) <= {"residential", "commercial", "industrial", "critical"}
    cfg = ScenarioConfig(
        network="demo:small", start=START, duration_s=3600, seed=7, customer_classes=demo.classes
    )
    result = run_scenario(cfg, demo.sites)
    stream = build_stream(result, FleetConfig(seed=7, push_window_s=60))
    exp = stream.truth()["expected"]
    assert exp["stored"] > 0 and exp["quarantined"] == 0 and exp["duplicate"] == 0
