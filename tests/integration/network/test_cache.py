"""The in-process cache of loaded versions: reused, and invalidated by a new active version."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tests.integration.network.helpers import library_inp
from waternet.errors import NotFound
from waternet.isolation.service import isolation_engine
from waternet.network import service


def _db(url: str) -> str:
    """The cache's identity of the database at ``url``."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host')}:{info.get('port', 5432)}/{info['dbname']}"


def test_cache_reuse_and_invalidation(db_url: str) -> None:
    with pytest.raises(NotFound):
        service.load_active(db_url)
    a, _ = service.import_into_db(db_url, path=library_inp("Net1.inp"))
    first = service.load_active(db_url)
    assert first.version_id == a
    assert service.load_active(db_url) is first  # cached
    assert first.topology is first.topology  # derived forms built once
    b, _ = service.import_into_db(db_url, path=library_inp("Net3.inp"))
    second = service.load_active(db_url)  # new active version seen at once
    assert second.version_id == b and second is not first
    assert second.name == "Net3"
    assert service.cached_versions() == [(_db(db_url), b)]  # the old one was dropped
    old = service.load_version(db_url, a)  # still loadable on demand
    assert old.version_id == a and old is not first
    assert service.load_active(db_url) is second
    service.activate(db_url, a)
    assert service.load_active(db_url) is old
    assert service.cached_versions() == [(_db(db_url), a)]
    with pytest.raises(NotFound):
        service.load_version(db_url, 999)


def test_concurrent_loads_load_once(db_url: str) -> None:
    service.import_into_db(db_url, path=library_inp("Net3.inp"))
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(service.load_active(db_url))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)
    net = service.load_active(db_url)
    assert isolation_engine(net) is isolation_engine(net)
    pipe = next(lk.id for lk in net.model.links if lk.kind == "pipe")
    plan = isolation_engine(net).plan(pipe=pipe)
    assert plan is not None
