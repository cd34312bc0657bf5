"""Network versions: import (all-or-nothing), activation, and loading into memory with the
per-process cache (see docs/network.md "Versions, storage and the API").

The use cases are async, take a connection keyword-only (``*, conn``; the API passes one from
the process's pool) and own their transactions: :func:`aimport_model`, :func:`aactivate`,
:func:`alist_versions`, :func:`aget_version`, :func:`aload`. Decoding a stored version runs in a
worker thread. The synchronous functions taking a database URL (:func:`import_into_db`,
:func:`load_active`...) are the entry points of processes without a pool (CLI, demo, tests):
each opens one short-lived connection.

The cache (:data:`CACHE`, :class:`waternet.network.cache.VersionCache`) holds loaded versions by
(database identity, version id). :func:`aload` checks the version's (id, created_at) with one
indexed query on the caller's connection (~0.1 ms) on every call, so a new active version is
picked up at the next call; activating through :func:`aactivate` drops the other versions at
once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from waternet.db.aconnect import aconnect
from waternet.db.connect import AsyncConnection
from waternet.errors import NotFound, ValidationFailed
from waternet.network import repository as repo
from waternet.network.cache import CACHE_VERSIONS, LoadedNetwork, VersionCache
from waternet.network.model import NetworkModel
from waternet.network.validation import ValidationReport, validate_model

T = TypeVar("T")
CACHE = VersionCache(CACHE_VERSIONS)

__all__ = [
    "CACHE",
    "LoadedNetwork",
    "aactivate",
    "aget_version",
    "aimport_model",
    "alist_versions",
    "aload",
    "db_identity",
]


def db_identity(conn: AsyncConnection) -> str:
    """The database a connection talks to, as the cache keys it."""
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


# ----- import ---------------------------------------------------------------------------------
def read_network(
    path: str | os.PathLike[str],
    *,
    valves: str | os.PathLike[str] | None = None,
    layers_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    crs: int | str = "local",
) -> tuple[NetworkModel, ValidationReport, str]:
    """Read and validate an .inp / layer folder / .zip (CPU work, no database): the model, its
    report and the source label. Every problem raises one :class:`ValidationFailed`."""
    from waternet.network.importers import import_network

    p = Path(path)
    missing = [str(x) for x in (p, valves, layers_dir) if x is not None and not Path(x).exists()]
    if missing:
        raise ValidationFailed(
            "not found: " + ", ".join(missing),
            details=[
                {
                    "severity": "error",
                    "code": "unreadable",
                    "element": m,
                    "layer": "",
                    "message": "no such file or folder",
                }
                for m in missing
            ],
        )
    try:
        model, report = import_network(
            p, valves=valves, layers_dir=layers_dir, name=name, crs=crs, strict=True
        )
    except ValidationFailed:
        raise
    except Exception as exc:  # WNTR raises many kinds on a broken .inp
        raise ValidationFailed(
            f"cannot read {p.name}: {exc}",
            details=[
                {
                    "severity": "error",
                    "code": "unreadable",
                    "element": p.name,
                    "layer": "",
                    "message": str(exc),
                }
            ],
        ) from exc
    kind = "layers" if p.is_dir() else p.suffix.lower().lstrip(".") or "file"
    return model, report, f"{kind}:{p.name}"


async def aimport_model(
    *,
    conn: AsyncConnection,
    model: NetworkModel,
    report: ValidationReport | None = None,
    source: str,
    activate: bool = True,
    created_by: str | None = None,
) -> tuple[int, ValidationReport]:
    """Store a model as a new version, all-or-nothing; the model is validated first (in a
    worker thread) unless its ``report`` is given."""
    if report is None:
        report = await asyncio.to_thread(validate_model, model)
    report.raise_if_errors("network import")
    header, chunks = await asyncio.to_thread(repo.encode_model, model)
    stats: dict[str, Any] = model.summary()
    stats["storage"] = {
        "encoding": repo.ENCODING,
        "chunks": len(chunks),
        "raw_bytes": sum(c.raw_bytes for c in chunks),
        "stored_bytes": sum(len(c.body) for c in chunks),
    }
    stats["warnings_by_code"] = dict(report.codes())
    stats["warnings_truncated"] = sum(report.truncated.values())
    warnings = [i.to_dict() for i in report.warnings]
    async with conn.transaction():
        vid = await repo.insert_version(
            conn,
            name=model.name,
            source=source,
            created_by=created_by,
            stats=stats,
            warnings=warnings,
        )
        await repo.insert_content(conn, vid, header, chunks)
        if activate:
            await repo.set_active(conn, vid)
    if activate:
        CACHE.activated(db_identity(conn), vid)
    return vid, report


async def aactivate(*, conn: AsyncConnection, version_id: int) -> dict[str, Any]:
    async with conn.transaction():
        await repo.set_active(conn, version_id)
    CACHE.activated(db_identity(conn), version_id)
    row = await repo.get_version(conn, version_id)
    assert row is not None
    return row


async def alist_versions(*, conn: AsyncConnection) -> list[dict[str, Any]]:
    return await repo.list_versions(conn)


async def aget_version(*, conn: AsyncConnection, version_id: int) -> dict[str, Any]:
    """Summary plus the validation report (the stored warnings)."""
    row = await repo.get_version(conn, version_id, with_warnings=True)
    if row is None:
        raise NotFound(f"network version {version_id} not found")
    return row


# ----- loading ----------------------------------------------------------------------------------
async def aload(*, conn: AsyncConnection, version_id: int | None = None) -> LoadedNetwork:
    """The active version (``version_id`` None) or a given one, loaded (cached; a newly
    activated version is seen at once)."""
    db = db_identity(conn)
    if version_id is None:
        stamp = await repo.active_stamp(conn)
        if stamp is None:
            raise NotFound("no active network version: import one with `waternet network import`")
        vid, created = stamp
    else:
        stamp_at = await repo.version_stamp(conn, version_id)
        if stamp_at is None:
            raise NotFound(f"network version {version_id} not found")
        vid, created = version_id, stamp_at
    active = version_id is None
    hit = CACHE.lookup(db, vid, created, active=active)
    if hit is not None:
        return hit
    async with CACHE.building(db, vid):
        hit = CACHE.lookup(db, vid, created, active=False)  # loaded meanwhile?
        if hit is not None:
            return hit
        content = await repo.read_content(conn, vid)
        model = await asyncio.to_thread(repo.decode_content, content)
        net = LoadedNetwork(version_id=vid, name=model.name, model=model, created_at=created)
        return CACHE.put(db, net)


# ----- entry points for processes without a pool (CLI, demo, tests) ---------------------------
def _run(url: str, use_case: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run one use case on a short-lived connection, for a synchronous caller. A caller that
    is itself inside an event loop (a sync helper called from async code) gets the use case run
    on a thread of its own, since that loop cannot be re-entered."""

    async def main() -> T:
        async with aconnect(url) as conn:
            return await use_case(conn)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="network-sync") as pool:
        return pool.submit(asyncio.run, main()).result()


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
    model, report, source = read_network(
        path, valves=valves, layers_dir=layers_dir, name=name, crs=crs
    )
    return import_model(
        url, model=model, report=report, source=source, activate=activate, created_by=created_by
    )


def import_model(
    url: str,
    *,
    model: NetworkModel,
    report: ValidationReport | None = None,
    source: str,
    activate: bool = True,
    created_by: str | None = None,
) -> tuple[int, ValidationReport]:
    """Store an already built model (demo city, synthetic network) as a new version."""
    return _run(
        url,
        lambda conn: aimport_model(
            conn=conn,
            model=model,
            report=report,
            source=source,
            activate=activate,
            created_by=created_by,
        ),
    )


def activate(url: str, version_id: int) -> dict[str, Any]:
    return _run(url, lambda conn: aactivate(conn=conn, version_id=version_id))


def list_versions(url: str) -> list[dict[str, Any]]:
    return _run(url, lambda conn: alist_versions(conn=conn))


def get_version(url: str, version_id: int) -> dict[str, Any]:
    return _run(url, lambda conn: aget_version(conn=conn, version_id=version_id))


def load(url: str, version_id: int | None = None) -> LoadedNetwork:
    return _run(url, lambda conn: aload(conn=conn, version_id=version_id))


def load_active(url: str) -> LoadedNetwork:
    return load(url)


def load_version(url: str, version_id: int) -> LoadedNetwork:
    return load(url, version_id)


def clear_cache() -> None:
    CACHE.clear()


def cached_versions() -> list[tuple[str, int]]:
    """(database identity, version id) of the cached versions, least recently used first."""
    return CACHE.keys()


# ----- map queries ------------------------------------------------------------------------------
DETAIL_LAYERS = {
    "pipes": "links",
    "links": "links",
    "junctions": "nodes",
    "sources": "nodes",
    "nodes": "nodes",
    "valves": "valves",
    "hydrants": "hydrants",
    "customers": "customers",
    "dmas": "dmas",
    "sensors": "sensors",
}


def element_detail(net: LoadedNetwork, layer: str, element_id: str) -> dict[str, Any]:
    """An element's attributes (the stored document form) plus what the map panel needs."""
    from waternet.network.model import element_to_dict

    section = DETAIL_LAYERS.get(layer)
    if section is None:
        raise NotFound(f"unknown layer {layer!r}; use one of {', '.join(DETAIL_LAYERS)}")
    m = net.model
    indexes: dict[str, dict[str, Any]] = {
        "links": m.link_by_id,
        "nodes": m.node_by_id,
        "valves": m.valve_by_id,
        "hydrants": m.hydrant_by_id,
        "customers": m.customer_by_account,
        "dmas": m.dma_by_code,
        "sensors": m.sensor_by_code,
    }
    index = indexes[section]
    el: Any = index.get(element_id)
    if el is None:
        raise NotFound(f"{layer} {element_id!r} not in network version {net.version_id}")
    props = element_to_dict(el)
    props.pop("vertices_xy", None)
    out: dict[str, Any] = {
        "layer": layer,
        "id": element_id,
        "version": net.version_id,
        "properties": props,
    }
    if section == "links":
        out["valves"] = [v.id for v in m.valves if v.link == element_id]
        out["customers"] = sum(1 for c in m.customers if c.link == element_id)
    elif section == "nodes":
        out["links"] = [lk.id for lk in m.links if element_id in (lk.start, lk.end)]
        out["customers"] = sum(1 for c in m.customers if c.node == element_id)
    elif section == "customers":
        out["critical"] = el.critical
    return out
