"""The API process runs no periodic job; what it needed one for still happens: the push
writer's latest values are written after a push, and its spool is replayed by the jobs
runner when no push follows a database outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

import waternet
from tests.support.ingest import TcpProxy, counts, register, wait_until
from waternet.api.app import create_app
from waternet.config import get_settings, load_settings, reset_settings
from waternet.ingest.codecs import cjt188
from waternet.ingest.formats import platforms
from waternet.jobs.registry import default_jobs
from waternet.jobs.runner import Runner

PACKAGE = Path(waternet.__file__).parent
KEY = "ctwing-key-jobs"
IMEI = "861234567890123"
CODE = "MT-N01-000001"


async def test_api_lifespan_starts_no_background_task(settings_env: dict[str, str]) -> None:
    app = create_app()
    before = asyncio.all_tasks()
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0)
        started = asyncio.all_tasks() - before
        # what runs now belongs to the connection pool (its workers and scheduler, and the
        # scheduler's wait), none to waternet: no refresher, maintenance or replay loop
        ours = [t for t in started if _defined_in_waternet(t)]
        assert ours == [], ours
        assert any(t.get_name().startswith(app.state.pool.name) for t in started)


def _defined_in_waternet(task: asyncio.Task[object]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and Path(code.co_filename).is_relative_to(PACKAGE)


@pytest.fixture
def db_proxy(db_url: str) -> Iterator[tuple[TcpProxy, str]]:
    parts = urlsplit(db_url)
    if parts.hostname:
        proxy = TcpProxy(parts.hostname, parts.port or 5432)
    else:  # the embedded server listens on a Unix socket only
        from urllib.parse import parse_qsl

        proxy = TcpProxy.to_unix(dict(parse_qsl(parts.query))["host"] + "/.s.PGSQL.5432")
    netloc = (parts.username or "postgres") + f"@127.0.0.1:{proxy.port}"
    yield proxy, urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    proxy.close()


def _push(client: TestClient, volume: float) -> dict[str, int]:
    now = datetime.now(UTC).replace(microsecond=0)
    frame = cjt188.encode_read_reply(address="00000000000001", volume_m3=volume, meter_time=now)
    push = platforms.ctwing_push(imei=IMEI, device_id="d1", frame=frame, ts=now)
    body = platforms.push_body(push)
    r = client.post(f"/api/v1/ingest/ctwing?key={KEY}", content=body)
    assert r.status_code == 200, r.text
    result: dict[str, int] = r.json()
    return result


def _latest_value(url: str) -> float | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT l.value FROM latest_readings l JOIN sensors s ON s.id = l.sensor_id "
            "WHERE s.code = %s",
            (CODE,),
        ).fetchone()
    return None if row is None else float(row[0])


def test_push_latest_values_and_spool_without_a_periodic_task(
    settings_env: dict[str, str],
    db_proxy: tuple[TcpProxy, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db_url = settings_env["WATERNET_DATABASE_URL"]
    proxy, api_db = db_proxy
    register(db_url, [CODE], imeis={CODE: IMEI})
    monkeypatch.setenv("WATERNET_CTWING_KEY", KEY)
    monkeypatch.setenv("WATERNET_DATABASE_URL", api_db)  # the API reaches the DB via the proxy
    reset_settings()
    spool = Path(settings_env["WATERNET_STATE_DIR"]) / "spool" / "http"
    with TestClient(create_app(get_settings())) as client:
        # a single push: its latest value is written about a second later, no push follows
        assert _push(client, 12.5)["stored"] == 1
        assert wait_until(lambda: _latest_value(db_url) == 12.5, 60)
        # the database goes away: the next push is spooled (durable, answered 200)
        proxy.cut()
        assert _push(client, 13.5)["spooled"] == 1
        assert len(list(spool.glob("seg-*.wal"))) == 1
        assert counts(db_url)["stored"] == 1
        # the API stays cut off and nothing is pushed any more: the jobs runner replays the
        # spool (it shares the API's state directory and reaches the database directly)
        jobs_settings = load_settings(database_url=db_url)
        replay = [j for j in default_jobs(jobs_settings) if j.name == "push-spool-replay"]

        async def run_jobs() -> None:
            async with Runner(replay, url=db_url):
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while list(spool.glob("seg-*.wal")) and loop.time() < deadline:
                    await asyncio.sleep(0.1)

        asyncio.run(run_jobs())
        assert list(spool.glob("seg-*.wal")) == []
        assert counts(db_url)["stored"] == 2
        assert _latest_value(db_url) == 13.5  # the replaying writer wrote it at close
        proxy.restore()
