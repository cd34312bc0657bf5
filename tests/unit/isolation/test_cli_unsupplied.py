"""``waternet isolate --json`` on an EPANET file with check-valve (``CV``) and closed pipes:
the CV burst pipe is closed on both sides and the dry parts come as ``unsupplied_before``
(issue 11, item 8). Fields are only added to the contract, never renamed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from waternet.cli.isolation_cmds import register

app = typer.Typer()
register(app)
runner = CliRunner()

# R1 -P1- J1 =P2 (CV)= J2 -P3- T1; J1 -P4 (Closed)- J3 -P5- J4; J5 =P6 (CV J5->J2)= J2
INP = """[TITLE]
check valves and a closed pipe

[JUNCTIONS]
 J1 0 1
 J2 0 1
 J3 0 1
 J4 0 1
 J5 0 1

[RESERVOIRS]
 R1 50

[TANKS]
 T1 0 5 0 10 10 0

[PIPES]
 P1 R1 J1 100 200 100 0 Open
 P2 J1 J2 100 200 100 0 CV
 P3 J2 T1 100 200 100 0 Open
 P4 J1 J3 100 200 100 0 Closed
 P5 J3 J4 100 200 100 0 Open
 P6 J5 J2 100 200 100 0 CV

[OPTIONS]
 Units LPS

[END]
"""

CONTRACT = {
    "burst",
    "valves_to_close",
    "steps",
    "already_closed",
    "not_needed",
    "passed_valves",
    "stuck",
    "area_segments",
    "isolated_nodes",
    "isolated_links",
    "cut_off_nodes",
    "cut_off_links",
    "restore",
    "conflicts",
    "warnings",
}


def test_isolate_json_check_valve_burst_and_unsupplied_before(tmp_path: Path) -> None:
    inp = tmp_path / "cv.inp"
    inp.write_text(INP)
    valves = tmp_path / "valves.csv"
    valves.write_text("valve,link,node\nV1,P2,J1\nV2,P2,J2\n")
    cust = tmp_path / "customers.csv"
    cust.write_text("account,node,link,class\nA1,J2,,residential\nA4,J4,,hospital\nA5,J5,,school\n")
    args = ["isolate", str(inp), "--valves", str(valves), "--pipe", "P2", "--json"]
    res = runner.invoke(app, [*args, "--customers", str(cust)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= CONTRACT
    # the tank feeds the rupture through J2 although the check valve faces the other way
    assert out["valves_to_close"] == ["V1", "V2"]
    assert out["isolated_links"] == ["P2"]
    assert out["cut_off_nodes"] == [] and out["cut_off_links"] == []
    assert out["unsupplied_before_nodes"] == ["J3", "J4", "J5"]
    assert out["unsupplied_before_links"] == ["P4", "P5", "P6"]
    assert out["affected_customers"] == []
    assert out["consequences"]["unsupplied_before_customers"] == 2
    assert out["consequences"]["unsupplied_before_critical_count"] == 2
    assert any("no supply before" in w for w in out["warnings"])
    # human output unchanged in form
    res2 = runner.invoke(app, args[:-1])
    assert res2.exit_code == 0, res2.output
    assert res2.output.startswith("close 2 valve(s): V1, V2;")
