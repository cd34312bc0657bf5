"""Helpers shared by the importers: valve rows through :class:`ValveLayer`, the customers CSV,
value parsing that records problems instead of stopping at the first."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from waternet.errors import ValidationFailed
from waternet.network.model import Customer, IsolationValve, NetworkModel
from waternet.network.sources import read_text
from waternet.network.topology import JUNCTION, RESERVOIR, TANK, Topology
from waternet.network.validation import ValidationReport
from waternet.network.valves import ValveLayer

CUSTOMER_COLUMNS = ("account", "node", "link", "class")
CUSTOMER_OPTIONAL = ("address", "lon", "lat")

_VALVE_ID = re.compile(r"valve(?: id)? '([^']*)'")


def lenient_topology(model: NetworkModel) -> Topology:
    """A Topology of the model's first node/link per id, links with unknown ends left out:
    lets the valve layer be checked even when the network itself has errors."""
    seen: set[str] = set()
    node_ids: list[str] = []
    kinds: list[int] = []
    for n in model.nodes:
        if n.id not in seen:
            seen.add(n.id)
            node_ids.append(n.id)
            kinds.append({"reservoir": RESERVOIR, "tank": TANK}.get(n.kind, JUNCTION))
    lseen: set[str] = set()
    links = []
    for lk in model.links:
        if lk.id not in lseen and lk.start in seen and lk.end in seen:
            lseen.add(lk.id)
            links.append(lk)
    return Topology.build(
        node_ids=node_ids,
        node_kind=kinds,
        link_ids=[lk.id for lk in links],
        link_start_ids=[lk.start for lk in links],
        link_end_ids=[lk.end for lk in links],
        link_kind=[0] * len(links),
        link_oneway=[False] * len(links),
        link_closed=[False] * len(links),
        length_m=[lk.length_m for lk in links],
        diameter_m=[lk.diameter_m for lk in links],
    )


def _problem_code(msg: str) -> str:
    if "duplicate valve id" in msg:
        return "duplicate_id"
    if "unknown link" in msg:
        return "unknown_link"
    if "unknown node" in msg:
        return "unknown_node"
    if "is not an end of link" in msg:
        return "valve_not_at_link_end"
    if "missing column" in msg:
        return "missing_field"
    return "bad_value"


def valves_from_layer(
    layer: ValveLayer, topo: Topology, positions: Mapping[str, tuple[float, float]] | None = None
) -> list[IsolationValve]:
    out: list[IsolationValve] = []
    for row in layer.to_rows(topo):
        d = row["diameter_mm"]
        v = IsolationValve(
            id=row["valve"],
            link=row["link"],
            node=row["node"],
            diameter_mm=None if d is None else round(float(d), 3),
            type=row["type"],
            normal=row["normal"],
            operable=row["operable"],
        )
        if positions and v.id in positions:
            v.lon, v.lat = positions[v.id]
        out.append(v)
    return out


def add_valves(
    model: NetworkModel,
    report: ValidationReport,
    *,
    csv_source: str | os.PathLike[str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    positions: Mapping[str, tuple[float, float]] | None = None,
    layer: str = "valves",
) -> None:
    """Parse a valve layer with :class:`ValveLayer` (CSV path/text or dict rows) against the
    model; valid valves are appended to ``model.valves``, problems go to ``report``."""
    try:
        topo = lenient_topology(model)
    except ValidationFailed:  # pragma: no cover - lenient_topology drops what could fail
        report.error("bad_value", layer, "valve layer not checked: network unusable", layer)
        return
    try:
        if csv_source is not None:
            vl = ValveLayer.from_csv(csv_source, topo)
        else:
            vl = ValveLayer.from_rows(rows or [], topo)
    except ValidationFailed as exc:
        for p in exc.details or [exc.message]:
            msg = str(p)
            m = _VALVE_ID.search(msg)
            report.error(_problem_code(msg), m.group(1) if m else msg.split(":", 1)[0], msg, layer)
        return
    model.valves.extend(valves_from_layer(vl, topo, positions))
    model.reindex()


def opt_float(
    value: Any, report: ValidationReport, element: str, name: str, layer: str
) -> float | None:
    """A float or None (missing/empty); a bad value is recorded and gives None."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        report.error("bad_value", element, f"{name} is not a number: {value!r}", layer)
        return None
    if not math.isfinite(f):
        report.error("bad_value", element, f"{name} is not finite: {value!r}", layer)
        return None
    return f


def opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    s = str(value).strip()
    return s or None


def read_customers_csv(
    source: str | os.PathLike[str], report: ValidationReport, *, layer: str = "customers.csv"
) -> list[Customer]:
    """Customers CSV: header ``account,node,link,class`` (+ optional ``address,lon,lat``);
    node or link may be empty (not both)."""
    text = read_text(source)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CUSTOMER_COLUMNS if c not in header]
    if missing:
        report.error(
            "missing_field", layer, f"line 1: missing column(s) {', '.join(missing)}", layer
        )
        return []
    reader.fieldnames = header
    return [
        customer_from_props(row, report, layer, f"line {k + 2}") for k, row in enumerate(reader)
    ]


def customer_from_props(
    props: Mapping[str, Any],
    report: ValidationReport,
    layer: str,
    where: str,
    lonlat: tuple[float, float] | None = None,
) -> Customer:
    account = opt_str(props.get("account")) or opt_str(props.get("id"))
    if account is None:
        report.error("missing_field", where, "customer without account", layer)
        account = f"?{where}"
    cls = (
        opt_str(props.get("class")) or opt_str(props.get("customer_class")) or "residential"
    ).lower()
    c = Customer(
        account=account,
        customer_class=cls,
        node=opt_str(props.get("node")),
        link=opt_str(props.get("link")) or opt_str(props.get("pipe")),
        address=opt_str(props.get("address")) or "",
    )
    if lonlat is not None:
        c.lon, c.lat = lonlat
    else:
        lon = opt_float(props.get("lon"), report, account, "lon", layer)
        lat = opt_float(props.get("lat"), report, account, "lat", layer)
        if lon is not None and lat is not None:
            c.lon, c.lat = lon, lat
    return c


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(header))
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
