"""Storage of network versions (tables ``network_versions``, ``network_documents``,
``network_chunks``). Functions take a connection; the service owns the transactions.

A version's content is the whole :class:`NetworkModel`, encoded column-wise: per section
(nodes, links, ...), chunks of up to :data:`CHUNK_ROWS` elements, each chunk a JSON object
``{field: [value per element]}`` compressed with zlib. Column JSON parses several times faster
than one object per element, and the elements are rebuilt positionally, so a 1,000,000-pipe
version loads in seconds rather than a minute (see docs/network.md, "Storage").

The SQL functions are async and take a connection (pooled in the API process); decoding is pure
CPU work (:func:`decode_content`) that the service runs in a worker thread.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from waternet.db.connect import AsyncConnection
from waternet.errors import NotFound, ValidationFailed
from waternet.network.model import (
    FORMAT,
    SECTIONS,
    NetworkModel,
    element_from_dict,
    element_to_dict,
)

ENCODING = "columns+json+zlib/1"
CHUNK_ROWS = 100_000
ZLIB_LEVEL = 1
_ROW_SECTIONS = frozenset({"dmas"})  # nested values: stored one dict per element
ACTIVATE_LOCK = 0x5EA7_0003  # advisory lock serialising activations

VERSION_COLUMNS = (
    "id, name, source, active, created_at, created_by, stats, "
    "jsonb_array_length(warnings) AS n_warnings"
)


# ----- codec (pure) --------------------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    section: str
    seq: int
    n_rows: int
    body: bytes
    raw_bytes: int


def _default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # NumPy scalars
    if callable(item):
        return item()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=_default).encode()


def encode_model(
    model: NetworkModel, *, chunk_rows: int = CHUNK_ROWS
) -> tuple[dict[str, Any], list[Chunk]]:
    """The model as a header (name, crs, meta) and compressed column chunks."""
    header = {"format": FORMAT, "name": model.name, "crs": model.crs, "meta": model.meta}
    chunks: list[Chunk] = []
    for section, cls in SECTIONS:
        items: list[Any] = getattr(model, section)
        names = [f.name for f in dataclasses.fields(cls)]
        for seq, start in enumerate(range(0, len(items), chunk_rows)):
            part = items[start : start + chunk_rows]
            doc: dict[str, Any]
            if section in _ROW_SECTIONS:
                doc = {"rows": [element_to_dict(e) for e in part]}
            else:
                doc = {"columns": {n: [getattr(e, n) for e in part] for n in names}}
            raw = _dumps(doc)
            chunks.append(Chunk(section, seq, len(part), zlib.compress(raw, ZLIB_LEVEL), len(raw)))
    return header, chunks


def decode_model(header: dict[str, Any], chunks: Iterable[tuple[str, bytes]]) -> NetworkModel:
    """Inverse of :func:`encode_model` (chunks as (section, body) in section/seq order)."""
    if header.get("format") != FORMAT:
        raise ValidationFailed(f"unsupported stored network format {header.get('format')!r}")
    classes = dict(SECTIONS)
    lists: dict[str, Any] = {s: [] for s, _ in SECTIONS}
    for section, body in chunks:
        cls = classes.get(section)
        if cls is None:
            raise ValidationFailed(f"unknown stored network section {section!r}")
        doc = json.loads(zlib.decompress(body))
        if "rows" in doc:
            lists[section].extend(element_from_dict(cls, d) for d in doc["rows"])
        else:
            lists[section].extend(_from_columns(cls, doc["columns"]))
    for lk in lists["links"]:
        if lk.vertices:
            lk.vertices = [(float(a), float(b)) for a, b in lk.vertices]
            lk.vertices_xy = [(float(a), float(b)) for a, b in lk.vertices_xy]
    return NetworkModel(
        name=str(header["name"]),
        crs=str(header["crs"]),
        meta=dict(header.get("meta") or {}),
        **lists,
    )


def _from_columns(cls: type, columns: dict[str, list[Any]]) -> list[Any]:
    fields = dataclasses.fields(cls)
    unknown = set(columns) - {f.name for f in fields}
    if unknown:
        raise ValidationFailed(f"{cls.__name__}: unknown stored field(s) {sorted(unknown)}")
    n = len(next(iter(columns.values()))) if columns else 0
    cols: list[Any] = []
    for f in fields:
        if f.name in columns:
            cols.append(columns[f.name])
        elif f.default_factory is not dataclasses.MISSING:
            cols.append([f.default_factory() for _ in range(n)])
        else:
            cols.append([f.default] * n)
    return [cls(*row) for row in zip(*cols, strict=True)]


# ----- versions --------------------------------------------------------------------------------
async def insert_version(
    conn: AsyncConnection,
    *,
    name: str,
    source: str,
    created_by: str | None,
    stats: dict[str, Any],
    warnings: list[dict[str, Any]],
) -> int:
    cur = await conn.execute(
        "INSERT INTO network_versions (name, source, created_by, stats, warnings) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name, source, created_by, Jsonb(stats), Jsonb(warnings)),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def insert_content(
    conn: AsyncConnection, version_id: int, header: dict[str, Any], chunks: Sequence[Chunk]
) -> None:
    await conn.execute(
        "INSERT INTO network_documents (version_id, encoding, header, raw_bytes, stored_bytes) "
        "VALUES (%s, %s, %s, %s, %s)",
        (
            version_id,
            ENCODING,
            Jsonb(header),
            sum(c.raw_bytes for c in chunks),
            sum(len(c.body) for c in chunks),
        ),
    )
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO network_chunks (version_id, section, seq, n_rows, body) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(version_id, c.section, c.seq, c.n_rows, c.body) for c in chunks],
        )


async def set_active(conn: AsyncConnection, version_id: int) -> None:
    """Make ``version_id`` the one active version (raises NotFound)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (ACTIVATE_LOCK,))
    if await get_version(conn, version_id) is None:
        raise NotFound(f"network version {version_id} not found")
    await conn.execute(
        "UPDATE network_versions SET active = false WHERE active AND id <> %s", (version_id,)
    )
    await conn.execute("UPDATE network_versions SET active = true WHERE id = %s", (version_id,))


async def list_versions(conn: AsyncConnection) -> list[dict[str, Any]]:
    cur = await conn.execute(f"SELECT {VERSION_COLUMNS} FROM network_versions ORDER BY id")
    return await cur.fetchall()


async def get_version(
    conn: AsyncConnection, version_id: int, *, with_warnings: bool = False
) -> dict[str, Any] | None:
    cols = VERSION_COLUMNS + (", warnings" if with_warnings else "")
    cur = await conn.execute(f"SELECT {cols} FROM network_versions WHERE id = %s", (version_id,))
    return await cur.fetchone()


async def active_stamp(conn: AsyncConnection) -> tuple[int, datetime] | None:
    """(id, created_at) of the active version, or None: the cheap cache check."""
    cur = await conn.execute("SELECT id, created_at FROM network_versions WHERE active")
    row = await cur.fetchone()
    return None if row is None else (int(row["id"]), row["created_at"])


async def version_stamp(conn: AsyncConnection, version_id: int) -> datetime | None:
    cur = await conn.execute("SELECT created_at FROM network_versions WHERE id = %s", (version_id,))
    row = await cur.fetchone()
    return None if row is None else row["created_at"]  # type: ignore[no-any-return,unused-ignore]


async def read_content(
    conn: AsyncConnection, version_id: int
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The stored header and the chunks (section, body) in order: :func:`decode_content`
    turns them into the model."""
    cur = await conn.execute(
        "SELECT encoding, header FROM network_documents WHERE version_id = %s", (version_id,)
    )
    doc = await cur.fetchone()
    if doc is None:
        raise NotFound(f"network version {version_id} has no stored content")
    if doc["encoding"] != ENCODING:
        raise ValidationFailed(f"unsupported network encoding {doc['encoding']!r}")
    order = {s: i for i, (s, _) in enumerate(SECTIONS)}
    cur = await conn.execute(
        "SELECT section, seq, body FROM network_chunks WHERE version_id = %s", (version_id,)
    )
    rows = await cur.fetchall()
    rows.sort(key=lambda r: (order.get(r["section"], len(order)), r["seq"]))
    return doc["header"], [(r["section"], bytes(r["body"])) for r in rows]


def decode_content(content: tuple[dict[str, Any], list[tuple[str, bytes]]]) -> NetworkModel:
    """The model from :func:`read_content`'s result (pure CPU work)."""
    header, chunks = content
    return decode_model(header, chunks)
