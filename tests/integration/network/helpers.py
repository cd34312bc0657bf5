"""Helpers of the network service tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from waternet.demo.city import write_demo_city

TABLES = ("network_versions", "network_documents", "network_chunks")


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        out = {}
        for t in TABLES:
            row = conn.execute(f"SELECT count(*) FROM {t}").fetchone()
            assert row is not None
            out[t] = int(row[0])
        return out


def library_inp(name: str) -> Path:
    from importlib.resources import files

    return Path(str(files("wntr") / "library" / "networks" / name))


def broken_layers(folder: Path) -> Path:
    """The small demo city's layers with four planted problems: a dangling valve, a duplicate
    junction id, a customer on an unknown node, an unreadable pipe geometry."""
    write_demo_city("small", folder)

    def edit(layer: str, fn: Any) -> None:
        path = folder / f"{layer}.geojson"
        doc = json.loads(path.read_text())
        fn(doc["features"])
        path.write_text(json.dumps(doc))

    def dangling_valve(fs: list[dict[str, Any]]) -> None:
        f = json.loads(json.dumps(fs[0]))
        f["properties"].update(valve="V-DANGLING", link="NO-SUCH-PIPE")
        fs.append(f)

    def duplicate_junction(fs: list[dict[str, Any]]) -> None:
        fs.append(json.loads(json.dumps(fs[3])))

    def unknown_customer_node(fs: list[dict[str, Any]]) -> None:
        f = json.loads(json.dumps(fs[0]))
        f["properties"] = {"account": "A-NOWHERE", "class": "hospital", "node": "NO-SUCH-NODE"}
        fs.append(f)

    def unreadable_geometry(fs: list[dict[str, Any]]) -> None:
        fs[5]["geometry"] = {"type": "LineString", "coordinates": "not coordinates"}

    edit("valves", dangling_valve)
    edit("junctions", duplicate_junction)
    edit("customers", unknown_customer_node)
    edit("pipes", unreadable_geometry)
    return folder


EXPECTED_BROKEN = {
    ("unknown_link", "V-DANGLING"),
    ("unknown_node", "A-NOWHERE"),
    ("bad_geometry", None),
    ("duplicate_id", None),
}


def missing_problems(details: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Expected (code, element) pairs not found in an error's details."""
    missing = []
    for code, element in EXPECTED_BROKEN:
        if not any(
            d.get("code") == code
            and (
                element is None
                or element in str(d.get("element"))
                or element in str(d.get("message"))
            )
            for d in details
        ):
            missing.append((code, element))
    return missing
