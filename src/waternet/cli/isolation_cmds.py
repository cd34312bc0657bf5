"""File-based isolation commands (no database): ``waternet segments`` and ``waternet isolate``.

Bad input prints a clear message on stderr and exits with code 2 (never a traceback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from waternet.errors import WaternetError
from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer


def _fail(message: str, details: Any = None) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    if isinstance(details, list | tuple):
        for d in details:
            typer.echo(f"  - {d}", err=True)
    raise typer.Exit(code=2)


def _load(network: Path, valves: Path) -> tuple[Topology, ValveLayer]:
    if not network.is_file():
        _fail(f"network file not found: {network}")
    if not valves.is_file():
        _fail(f"valves file not found: {valves}")
    try:
        topo = Topology.from_inp(str(network))
    except WaternetError as exc:
        _fail(exc.message, exc.details)
    except Exception as exc:  # WNTR raises many kinds on a broken .inp
        _fail(f"cannot read EPANET file {network}: {exc}")
    try:
        layer = ValveLayer.from_csv(valves, topo)
    except WaternetError as exc:
        _fail(exc.message, exc.details)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        _fail(f"cannot read valves file {valves}: {exc}")
    return topo, layer


def _emit(obj: dict[str, Any], as_json: bool, summary: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        typer.echo(summary)


def segments_cmd(
    network: Path = typer.Argument(..., help="EPANET .inp file"),
    valves: Path = typer.Option(..., "--valves", help="valve layer CSV (valve,link,node,...)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Valve segments (Walski) of a network and valve layer."""
    from waternet.isolation.segments import SegmentIndex

    topo, layer = _load(network, valves)
    seg = SegmentIndex.build(topo, layer)
    _emit(seg.to_json(), as_json, f"{seg.n_segments} segments, {len(layer)} valves")


def isolate_cmd(
    network: Path = typer.Argument(..., help="EPANET .inp file"),
    valves: Path = typer.Option(..., "--valves", help="valve layer CSV"),
    pipe: str = typer.Option(..., "--pipe", help="id of the burst pipe"),
    stuck: list[str] = typer.Option([], "--stuck", help="valve reported stuck (repeatable)"),
    customers: Path | None = typer.Option(
        None, "--customers", help="customers CSV (account,node,link,class)"
    ),
    what_if: bool = typer.Option(False, "--what-if", help="also plan each valve stuck"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Isolation plan for a burst pipe: valves to close (ordered), isolated and cut-off parts."""
    from waternet.isolation.assets import Assets, load_customers_csv
    from waternet.isolation.engine import IsolationEngine

    topo, layer = _load(network, valves)
    try:
        assets = None
        if customers is not None:
            if not customers.is_file():
                _fail(f"customers file not found: {customers}")
            assets = Assets.build(topo, customers=load_customers_csv(customers, topo))
        engine = IsolationEngine(topo, layer, assets=assets)
        plan = engine.plan(pipe=pipe, stuck=stuck, what_if=what_if)
    except WaternetError as exc:
        _fail(exc.message, exc.details)
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read input: {exc}")
    out = plan.to_json()
    summary = (
        f"close {len(plan.valves_to_close)} valve(s): {', '.join(plan.valves_to_close)}; "
        f"{len(out['isolated_links'])} link(s) isolated, {len(out['cut_off_links'])} cut off"
    )
    _emit(out, as_json, summary)


def register(app: typer.Typer) -> None:
    """Add ``segments`` and ``isolate`` to the main ``waternet`` Typer app."""
    app.command("segments")(segments_cmd)
    app.command("isolate")(isolate_cmd)
