"""CLI contract of ``waternet segments`` and ``waternet isolate`` (file-based)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
import wntr
from typer.testing import CliRunner

from waternet.cli.isolation_cmds import register

app = typer.Typer()
register(app)
runner = CliRunner()


def _valves_csv(tmp_path: Path, net3_path: Path) -> tuple[Path, wntr.network.WaterNetworkModel]:
    wn = wntr.network.WaterNetworkModel(str(net3_path))
    df = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=4)
    p = tmp_path / "valves.csv"
    lines = ["valve,link,node,operable"] + [
        f"V{i},{r.link},{r.node},{'false' if i % 17 == 0 else 'true'}"
        for i, r in enumerate(df.itertuples())
    ]
    p.write_text("\n".join(lines) + "\n")
    return p, wn


def test_segments_json_equals_wntr(tmp_path: Path, net3_path: Path) -> None:
    valves, wn = _valves_csv(tmp_path, net3_path)
    res = runner.invoke(app, ["segments", str(net3_path), "--valves", str(valves), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"node_segment", "link_segment", "segments"}
    df = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=4)
    ns, ls, _ = wntr.metrics.valve_segments(wn.to_graph(), df)
    ours = [out["node_segment"][n] for n in ns.index] + [out["link_segment"][k] for k in ls.index]
    theirs = list(ns.to_numpy()) + list(ls.to_numpy())
    assert len(set(zip(ours, theirs, strict=True))) == len(set(ours)) == len(set(theirs))
    assert out["segments"] == len(set(ours))


def test_isolate_json(tmp_path: Path, net3_path: Path) -> None:
    valves, wn = _valves_csv(tmp_path, net3_path)
    cust = tmp_path / "customers.csv"
    rows = ["account,node,link,class"]
    nodes = [n for n, _ in wn.junctions()]
    for i, n in enumerate(nodes):
        rows.append(f"A{i},{n},,{'hospital' if i % 9 == 0 else 'residential'}")
    rows.append("B1,,101,school")
    cust.write_text("\n".join(rows) + "\n")
    res = runner.invoke(
        app,
        [
            "isolate",
            str(net3_path),
            "--valves",
            str(valves),
            "--pipe",
            "101",
            "--customers",
            str(cust),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for key in (
        "valves_to_close",
        "isolated_nodes",
        "isolated_links",
        "cut_off_nodes",
        "cut_off_links",
        "passed_valves",
        "affected_customers",
    ):
        assert key in out
    assert "101" in out["isolated_links"]
    assert out["valves_to_close"]
    assert any(c["account"] == "B1" and c["critical"] for c in out["affected_customers"])
    crit = [c["critical"] for c in out["affected_customers"]]
    assert crit == sorted(crit, reverse=True)  # critical customers first
    stuck = out["valves_to_close"][0]
    res2 = runner.invoke(
        app,
        [
            "isolate",
            str(net3_path),
            "--valves",
            str(valves),
            "--pipe",
            "101",
            "--stuck",
            stuck,
            "--json",
        ],
    )
    assert res2.exit_code == 0, res2.output
    out2 = json.loads(res2.stdout)
    assert stuck not in out2["valves_to_close"]
    assert {"valve": stuck, "reason": "stuck"} in out2["passed_valves"]
    assert "affected_customers" not in out2
    assert set(out["isolated_links"]) <= set(out2["isolated_links"]) | set(out2["cut_off_links"])


def test_bad_input_exit_2_without_traceback(tmp_path: Path, net3_path: Path) -> None:
    valves, _ = _valves_csv(tmp_path, net3_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("valve,link,node\nX,nope,10\nX,101,zz\n")
    broken_inp = tmp_path / "broken.inp"
    broken_inp.write_text("[PIPES]\n this is not epanet\n")
    cust = tmp_path / "c.csv"
    cust.write_text("account,node,link,class\nA,10,,martian\n")
    cases = [
        ["segments", str(net3_path), "--valves", str(bad), "--json"],
        ["segments", str(tmp_path / "missing.inp"), "--valves", str(valves)],
        ["segments", str(broken_inp), "--valves", str(valves)],
        ["isolate", str(net3_path), "--valves", str(valves), "--pipe", "nope", "--json"],
        ["isolate", str(net3_path), "--valves", str(valves), "--pipe", "101", "--stuck", "Q"],
        [
            "isolate",
            str(net3_path),
            "--valves",
            str(valves),
            "--pipe",
            "101",
            "--customers",
            str(cust),
        ],
    ]
    for args in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output
        assert "error:" in res.stderr
    res = runner.invoke(app, ["segments", str(net3_path), "--valves", str(bad)])
    assert "unknown link 'nope'" in res.stderr and "line 3" in res.stderr


def test_human_output(tmp_path: Path, net3_path: Path) -> None:
    valves, _ = _valves_csv(tmp_path, net3_path)
    res = runner.invoke(app, ["isolate", str(net3_path), "--valves", str(valves), "--pipe", "101"])
    assert res.exit_code == 0 and "valve(s)" in res.stdout
    assert np.isfinite(len(res.stdout))
