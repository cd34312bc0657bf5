"""Isolation valve layer: valves placed as (link, node) pairs, the way WNTR's valve layer does.

A valve on link L next to node N separates L from N when closed. Attributes: diameter (mm),
type, normal position (open/closed) and operable (yes/no). Pure module.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from waternet.errors import ValidationFailed
from waternet.network.sources import read_text
from waternet.network.topology import Topology

REQUIRED_COLUMNS = ("valve", "link", "node")
OPTIONAL_COLUMNS = ("diameter_mm", "type", "normal", "operable")
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


@dataclass(frozen=True, eq=False)
class ValveLayer:
    """Valves of one network version, as parallel arrays indexed by valve position."""

    valve_ids: list[str]
    valve_index: dict[str, int]
    link: npt.NDArray[np.int32]
    node: npt.NDArray[np.int32]
    operable: npt.NDArray[np.bool_]
    normal_open: npt.NDArray[np.bool_]
    diameter_mm: npt.NDArray[np.float64]
    type: list[str]

    def __len__(self) -> int:
        return len(self.valve_ids)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_rows(
        cls, rows: list[dict[str, Any]], topology: Topology, *, first_line: int = 2
    ) -> ValveLayer:
        """Build from dict rows (keys: valve, link, node and optional columns).

        Every problem is collected; ValidationFailed lists them all with line numbers
        (``first_line`` is the line number of the first row)."""
        problems: list[str] = []
        ids: list[str] = []
        index: dict[str, int] = {}
        links: list[int] = []
        nodes: list[int] = []
        operable: list[bool] = []
        normal_open: list[bool] = []
        diam: list[float] = []
        types: list[str] = []
        for k, row in enumerate(rows):
            line = first_line + k
            vid = str(row.get("valve") or "").strip()
            lid = str(row.get("link") or "").strip()
            nid = str(row.get("node") or "").strip()
            if not vid:
                problems.append(f"line {line}: empty valve id")
            elif vid in index:
                problems.append(f"line {line}: duplicate valve id {vid!r}")
            li = topology.link_index.get(lid)
            ni = topology.node_index.get(nid)
            if li is None:
                problems.append(f"line {line}: valve {vid!r}: unknown link {lid!r}")
            if ni is None:
                problems.append(f"line {line}: valve {vid!r}: unknown node {nid!r}")
            if (
                li is not None
                and ni is not None
                and ni
                not in (
                    int(topology.link_start[li]),
                    int(topology.link_end[li]),
                )
            ):
                problems.append(
                    f"line {line}: valve {vid!r}: node {nid!r} is not an end of link {lid!r}"
                )
            op = _parse_bool(row.get("operable"), default=True)
            if op is None:
                problems.append(
                    f"line {line}: valve {vid!r}: operable must be true/false, "
                    f"got {row.get('operable')!r}"
                )
            norm = _parse_normal(row.get("normal"))
            if norm is None:
                problems.append(
                    f"line {line}: valve {vid!r}: normal must be open/closed, "
                    f"got {row.get('normal')!r}"
                )
            d_raw = row.get("diameter_mm")
            d = float("nan")
            if d_raw is not None and str(d_raw).strip() != "":
                try:
                    d = float(d_raw)
                    if not np.isfinite(d) or d <= 0:
                        raise ValueError
                except (TypeError, ValueError):
                    problems.append(
                        f"line {line}: valve {vid!r}: diameter_mm must be a positive number, "
                        f"got {d_raw!r}"
                    )
                    d = float("nan")
            elif li is not None and topology.link_diameter_m[li] > 0:
                # the valve takes its pipe's size; pumps have none (the valve stays unsized)
                d = float(topology.link_diameter_m[li]) * 1000.0
            if vid and vid not in index:
                index[vid] = len(ids)
            ids.append(vid)
            links.append(-1 if li is None else li)
            nodes.append(-1 if ni is None else ni)
            operable.append(bool(op))
            normal_open.append(bool(norm if norm is not None else True))
            diam.append(d)
            types.append(str(row.get("type") or "gate").strip() or "gate")
        if problems:
            raise ValidationFailed(
                f"valve layer refused: {len(problems)} problem(s)", details=problems
            )
        return cls(
            valve_ids=ids,
            valve_index=index,
            link=np.asarray(links, dtype=np.int32),
            node=np.asarray(nodes, dtype=np.int32),
            operable=np.asarray(operable, dtype=bool),
            normal_open=np.asarray(normal_open, dtype=bool),
            diameter_mm=np.asarray(diam, dtype=np.float64),
            type=types,
        )

    @classmethod
    def from_csv(cls, path_or_text: str | os.PathLike[str], topology: Topology) -> ValveLayer:
        """Read CSV (a path, or the CSV text itself) with header ``valve,link,node`` and
        optional ``diameter_mm,type,normal,operable``."""
        text = read_text(path_or_text)
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValidationFailed(
                "valve layer refused: bad header",
                details=[f"line 1: missing column(s) {', '.join(missing)} (header: {header})"],
            )
        reader.fieldnames = header
        rows = [
            {k: (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k is not None}
            for r in reader
        ]
        return cls.from_rows(rows, topology)

    @classmethod
    def from_dataframe(cls, df: Any, topology: Topology) -> ValveLayer:
        """Accept the DataFrame of ``wntr.network.generate_valve_layer`` (columns link, node;
        the index gives the valve ids), optionally with the other columns."""
        rows: list[dict[str, Any]] = []
        cols = list(df.columns)
        for vid, rec in zip(df.index, df.itertuples(index=False), strict=True):
            row = dict(zip(cols, rec, strict=True))
            row.setdefault("valve", str(vid))
            row["valve"] = str(row["valve"])
            rows.append(row)
        return cls.from_rows(rows, topology)

    # ------------------------------------------------------------------ helpers
    def to_rows(self, topology: Topology) -> list[dict[str, Any]]:
        return [
            {
                "valve": v,
                "link": topology.link_ids[int(self.link[i])],
                "node": topology.node_ids[int(self.node[i])],
                "diameter_mm": None
                if np.isnan(self.diameter_mm[i])
                else float(self.diameter_mm[i]),
                "type": self.type[i],
                "normal": "open" if self.normal_open[i] else "closed",
                "operable": bool(self.operable[i]),
            }
            for i, v in enumerate(self.valve_ids)
        ]

    def indices(self, ids: Any, *, what: str = "valve") -> npt.NDArray[np.int64]:
        """Positions of valve ids; ValidationFailed listing every unknown id."""
        ids = list(ids)
        unknown = [v for v in ids if v not in self.valve_index]
        if unknown:
            raise ValidationFailed(
                f"unknown {what} id(s)", details=[f"unknown {what} {v!r}" for v in unknown]
            )
        return np.asarray([self.valve_index[v] for v in ids], dtype=np.int64)


def _parse_bool(value: Any, *, default: bool) -> bool | None:
    if value is None:
        return default
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float) and np.isnan(value):
        return default
    s = str(value).strip().lower()
    if s == "":
        return default
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    return None


def _parse_normal(value: Any) -> bool | None:
    """True when normally open."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    s = str(value).strip().lower()
    if s in ("", "open", "o", "opened"):
        return True
    if s in ("closed", "close", "c", "shut"):
        return False
    return None
