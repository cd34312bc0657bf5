"""What sits on the network, for isolation consequences: customers (service connections),
hydrants, sensor sites and DMA membership, indexed by element (node ``i`` or link ``n+j``)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from waternet.errors import ValidationFailed
from waternet.network.sources import read_text
from waternet.network.topology import Topology

CRITICAL_CLASSES = frozenset({"hospital", "dialysis", "school", "fire_station", "care_home"})
CUSTOMER_CLASSES = ("residential", "commercial", "industrial", *sorted(CRITICAL_CLASSES))

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Customer:
    account: str
    node: str | None
    link: str | None
    klass: str

    @property
    def critical(self) -> bool:
        return self.klass in CRITICAL_CLASSES


@dataclass(frozen=True)
class Site:
    """A hydrant (node only) or a sensor site (node or link)."""

    id: str
    node: str | None = None
    link: str | None = None


def _element_csr(elem: I64, n_elements: int) -> tuple[I64, I64]:
    order = np.argsort(elem, kind="stable").astype(np.int64)
    indptr = np.zeros(n_elements + 1, dtype=np.int64)
    np.cumsum(np.bincount(elem, minlength=n_elements), out=indptr[1:])
    return indptr, order


@dataclass(frozen=True, eq=False)
class Assets:
    customers: list[Customer]
    customer_elem: I64
    customer_critical: npt.NDArray[np.bool_]
    hydrants: list[Site]
    hydrant_elem: I64
    sensors: list[Site]
    sensor_elem: I64
    node_dma: list[str | None]
    cust_per_elem: I64
    crit_per_elem: I64
    cust_csr: tuple[I64, I64]
    hyd_csr: tuple[I64, I64]
    sen_csr: tuple[I64, I64]

    @classmethod
    def build(
        cls,
        topology: Topology,
        *,
        customers: Iterable[Customer] = (),
        hydrants: Iterable[Site] = (),
        sensors: Iterable[Site] = (),
        node_dma: Mapping[str, str] | None = None,
    ) -> Assets:
        """Index the assets; ValidationFailed lists every unknown node/link reference."""
        problems: list[str] = []
        n = topology.n_nodes
        e = n + topology.n_links

        def elem_of(kind: str, ident: str, node: str | None, link: str | None) -> int:
            if node:
                i = topology.node_index.get(node)
                if i is None:
                    problems.append(f"{kind} {ident!r}: unknown node {node!r}")
                    return 0
                return i
            if link:
                j = topology.link_index.get(link)
                if j is None:
                    problems.append(f"{kind} {ident!r}: unknown link {link!r}")
                    return 0
                return n + j
            problems.append(f"{kind} {ident!r}: neither node nor link given")
            return 0

        cl = list(customers)
        hl = list(hydrants)
        sl = list(sensors)
        ce = np.asarray([elem_of("customer", c.account, c.node, c.link) for c in cl], np.int64)
        he = np.asarray([elem_of("hydrant", h.id, h.node, None) for h in hl], np.int64)
        se = np.asarray([elem_of("sensor", s.id, s.node, s.link) for s in sl], np.int64)
        dma: list[str | None] = [None] * n
        for node_id, name in (node_dma or {}).items():
            i = topology.node_index.get(str(node_id))
            if i is None:
                problems.append(f"dma {name!r}: unknown node {node_id!r}")
            else:
                dma[i] = str(name)
        if problems:
            raise ValidationFailed(f"assets refused: {len(problems)} problem(s)", details=problems)
        crit = np.asarray([c.critical for c in cl], dtype=bool)
        return cls(
            customers=cl,
            customer_elem=ce,
            customer_critical=crit,
            hydrants=hl,
            hydrant_elem=he,
            sensors=sl,
            sensor_elem=se,
            node_dma=dma,
            cust_per_elem=np.bincount(ce, minlength=e).astype(np.int64),
            crit_per_elem=np.bincount(ce[crit], minlength=e).astype(np.int64),
            cust_csr=_element_csr(ce, e),
            hyd_csr=_element_csr(he, e),
            sen_csr=_element_csr(se, e),
        )

    @staticmethod
    def pick(csr: tuple[I64, I64], elems: I64) -> I64:
        """Positions (in the asset list) of the assets on the given elements."""
        from waternet.isolation.segments import ranges

        indptr, order = csr
        starts = indptr[elems]
        return order[ranges(starts, indptr[elems + 1] - starts)]


def load_customers_csv(path_or_text: str | os.PathLike[str], topology: Topology) -> list[Customer]:
    """CSV with header ``account,node,link,class`` (node or link filled). Every problem is
    listed, with line numbers, in one ValidationFailed."""
    text = read_text(path_or_text)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("account", "class") if c not in header]
    if "node" not in header and "link" not in header:
        missing.append("node or link")
    if missing:
        raise ValidationFailed(
            "customers refused: bad header",
            details=[f"line 1: missing column(s) {', '.join(missing)} (header: {header})"],
        )
    reader.fieldnames = header
    problems: list[str] = []
    out: list[Customer] = []
    seen: set[str] = set()
    for k, row in enumerate(reader):
        line = k + 2
        r: dict[str, Any] = {a: (b or "").strip() for a, b in row.items() if a is not None}
        acc = r.get("account", "")
        node = r.get("node") or None
        link = r.get("link") or None
        klass = r.get("class", "").lower()
        if not acc:
            problems.append(f"line {line}: empty account")
        elif acc in seen:
            problems.append(f"line {line}: duplicate account {acc!r}")
        seen.add(acc)
        if node and link:
            problems.append(f"line {line}: account {acc!r}: give node or link, not both")
        elif not node and not link:
            problems.append(f"line {line}: account {acc!r}: neither node nor link given")
        elif node and node not in topology.node_index:
            problems.append(f"line {line}: account {acc!r}: unknown node {node!r}")
        elif link and link not in topology.link_index:
            problems.append(f"line {line}: account {acc!r}: unknown link {link!r}")
        if klass not in CUSTOMER_CLASSES:
            problems.append(
                f"line {line}: account {acc!r}: unknown class {r.get('class')!r} "
                f"(expected one of {', '.join(CUSTOMER_CLASSES)})"
            )
        out.append(Customer(account=acc, node=node, link=link, klass=klass))
    if problems:
        raise ValidationFailed(f"customers refused: {len(problems)} problem(s)", details=problems)
    return out
