"""Network versions: import (all-or-nothing), activation, and loading into memory with a
per-process cache (see docs/network.md "Versions, storage and the API").

Functions are synchronous and take the database URL; each owns its transaction. The cache
holds loaded versions by (url, version id); :func:`load_active` checks the active version's
(id, created_at) on a kept-open connection (one indexed query, ~0.1 ms) on every call, so a
new active version is picked up at the next call; when the active version changes, the other
cached versions are dropped. At most ``CACHE_VERSIONS`` versions are kept (least recently used
goes first).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from waternet.db.connect import connect
from waternet.errors import NotFound, ServiceUnavailable, ValidationFailed
from waternet.network import repository as repo
from waternet.network.model import NetworkModel
from waternet.network.validation import ValidationReport, validate_model

if TYPE_CHECKING:
    from waternet.network.topology import Topology

T = TypeVar("T")
CACHE_VERSIONS = 2  # loaded versions kept per process (the active one and one other)


@dataclass(eq=False)
class LoadedNetwork:
    """One version in memory. The derived forms are built on first use, once, thread-safely."""

    version_id: int
    name: str
    model: NetworkModel
    created_at: datetime | None = None
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """A form derived from this version (the map layers, the isolation engine...), built on
        first use, once, thread-safely, and dropped with the version. ``key`` names the form:
        use the deriving module's name, e.g. ``"isolation.engine"``."""
        if key not in self._built:
            with self._lock:
                if key not in self._built:
                    self._built[key] = build()
        return self._built[key]  # type: ignore[no-any-return]

    @property
    def topology(self) -> Topology:
        return self.derived("network.topology", self.model.to_topology)


# ----- import ---------------------------------------------------------------------------------
def import_into_db(
    url: str,
    *,
    path: str | os.PathLike[str],
    valves: str | os.PathLike[str] | None = None,
    layers_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    activate: bool = True,
    created_by: str | None = None,
    crs: int | str = "local",
) -> tuple[int, ValidationReport]:
    """Import an .inp / layer folder / .zip as a new version. Every problem raises one
    :class:`ValidationFailed` listing them all, and the database is left unchanged."""
    from waternet.network.importers import import_network

    p = Path(path)
    missing = [str(x) for x in (p, valves, layers_dir) if x is not None and not Path(x).exists()]
    if missing:
        raise ValidationFailed("not found: " + ", ".join(missing), details=[
            {"severity": "error", "code": "unreadable", "element": m, "layer": "",
             "message": "no such file or folder"} for m in missing])
    try:
        model, report = import_network(p, valves=valves, layers_dir=layers_dir, name=name,
                                       crs=crs, strict=True)
    except ValidationFailed:
        raise
    except Exception as exc:  # WNTR raises many kinds on a broken .inp
        raise ValidationFailed(f"cannot read {p.name}: {exc}", details=[
            {"severity": "error", "code": "unreadable", "element": p.name, "layer": "",
             "message": str(exc)}]) from exc
    kind = "layers" if p.is_dir() else p.suffix.lower().lstrip(".") or "file"
    return import_model(url, model=model, report=report, source=f"{kind}:{p.name}",
                        activate=activate, created_by=created_by)


def import_model(
    url: str,
    *,
    model: NetworkModel,
    report: ValidationReport | None = None,
    source: str,
    activate: bool = True,
    created_by: str | None = None,
) -> tuple[int, ValidationReport]:
    """Store an already built model (demo city, synthetic network) as a new version; the model
    is validated first unless its ``report`` is given."""
    if report is None:
        report = validate_model(model)
    report.raise_if_errors("network import")
    header, chunks = repo.encode_model(model)
    stats: dict[str, Any] = model.summary()
    stats["storage"] = {"encoding": repo.ENCODING, "chunks": len(chunks),
                        "raw_bytes": sum(c.raw_bytes for c in chunks),
                        "stored_bytes": sum(len(c.body) for c in chunks)}
    stats["warnings_by_code"] = dict(report.codes())
    stats["warnings_truncated"] = sum(report.truncated.values())
    warnings = [i.to_dict() for i in report.warnings]
    with connect(url) as conn, conn.transaction():
        vid = repo.insert_version(conn, name=model.name, source=source, created_by=created_by,
                                  stats=stats, warnings=warnings)
        repo.insert_content(conn, vid, header, chunks)
        if activate:
            repo.set_active(conn, vid)
    return vid, report


def activate(url: str, version_id: int) -> dict[str, Any]:
    with connect(url) as conn:
        with conn.transaction():
            repo.set_active(conn, version_id)
        row = repo.get_version(conn, version_id)
    assert row is not None
    return row


def list_versions(url: str) -> list[dict[str, Any]]:
    with connect(url) as conn:
        return repo.list_versions(conn)


def get_version(url: str, version_id: int) -> dict[str, Any]:
    """Summary plus the validation report (the stored warnings)."""
    with connect(url) as conn:
        row = repo.get_version(conn, version_id, with_warnings=True)
    if row is None:
        raise NotFound(f"network version {version_id} not found")
    return row


# ----- loading and the cache ------------------------------------------------------------------
_cache: dict[tuple[str, int], LoadedNetwork] = {}
_cache_lock = threading.Lock()
_load_locks: dict[tuple[str, int], threading.Lock] = {}
_active: dict[str, int] = {}  # last active version id seen per url
_probes: dict[str, psycopg.Connection[dict[str, Any]]] = {}
_probe_lock = threading.Lock()


def _probe(url: str, fn: Callable[[psycopg.Connection[dict[str, Any]]], T]) -> T:
    """Run a tiny read on a kept-open autocommit connection (reconnects once on failure)."""
    with _probe_lock:
        for attempt in (0, 1):
            conn = _probes.get(url)
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
                    _probes[url] = conn
                return fn(conn)
            except psycopg.OperationalError as exc:
                _probes.pop(url, None)
                if attempt:
                    raise ServiceUnavailable(f"cannot reach the database: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def load_active(url: str) -> LoadedNetwork:
    """The active version, loaded (cached; a newly activated version is seen at once)."""
    stamp = _probe(url, repo.active_stamp)
    if stamp is None:
        raise NotFound("no active network version: import one with `waternet network import`")
    return _get(url, stamp[0], stamp[1], active=True)


def load_version(url: str, version_id: int) -> LoadedNetwork:
    """A given version, loaded (cached)."""
    created = _probe(url, lambda c: repo.version_stamp(c, version_id))
    if created is None:
        raise NotFound(f"network version {version_id} not found")
    return _get(url, version_id, created, active=False)


def load(url: str, version_id: int | None = None) -> LoadedNetwork:
    return load_active(url) if version_id is None else load_version(url, version_id)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _load_locks.clear()
        _active.clear()


def cached_versions() -> list[tuple[str, int]]:
    with _cache_lock:
        return list(_cache)


def _get(url: str, version_id: int, created: datetime, *, active: bool) -> LoadedNetwork:
    key = (url, version_id)
    with _cache_lock:
        if active and _active.get(url) != version_id:
            # the active version changed: drop the versions cached so far
            for k in [k for k in _cache if k[0] == url and k[1] != version_id]:
                del _cache[k]
            _active[url] = version_id
        hit = _cache.get(key)
        if hit is not None and hit.created_at == created:
            _cache[key] = _cache.pop(key)  # most recently used last
            return hit
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is None or hit.created_at != created:
            with connect(url) as conn:
                model = repo.read_content(conn, version_id)
            hit = LoadedNetwork(version_id=version_id, name=model.name, model=model,
                                created_at=created)
        with _cache_lock:
            _cache.pop(key, None)
            _cache[key] = hit
            while len(_cache) > CACHE_VERSIONS:  # least recently used first
                _cache.pop(next(iter(_cache)))
    return hit


# ----- map queries ------------------------------------------------------------------------------
DETAIL_LAYERS = {"pipes": "links", "links": "links", "junctions": "nodes", "sources": "nodes",
                 "nodes": "nodes", "valves": "valves", "hydrants": "hydrants",
                 "customers": "customers", "dmas": "dmas", "sensors": "sensors"}


def element_detail(net: LoadedNetwork, layer: str, element_id: str) -> dict[str, Any]:
    """An element's attributes (the stored document form) plus what the map panel needs."""
    from waternet.network.model import element_to_dict

    section = DETAIL_LAYERS.get(layer)
    if section is None:
        raise NotFound(f"unknown layer {layer!r}; use one of {', '.join(DETAIL_LAYERS)}")
    m = net.model
    indexes: dict[str, dict[str, Any]] = {
        "links": m.link_by_id, "nodes": m.node_by_id, "valves": m.valve_by_id,
        "hydrants": m.hydrant_by_id, "customers": m.customer_by_account,
        "dmas": m.dma_by_code, "sensors": m.sensor_by_code}
    index = indexes[section]
    el: Any = index.get(element_id)
    if el is None:
        raise NotFound(f"{layer} {element_id!r} not in network version {net.version_id}")
    props = element_to_dict(el)
    props.pop("vertices_xy", None)
    out: dict[str, Any] = {"layer": layer, "id": element_id, "version": net.version_id,
                           "properties": props}
    if section == "links":
        out["valves"] = [v.id for v in m.valves if v.link == element_id]
        out["customers"] = sum(1 for c in m.customers if c.link == element_id)
    elif section == "nodes":
        out["links"] = [lk.id for lk in m.links if element_id in (lk.start, lk.end)]
        out["customers"] = sum(1 for c in m.customers if c.node == element_id)
    elif section == "customers":
        out["critical"] = el.critical
    return out
