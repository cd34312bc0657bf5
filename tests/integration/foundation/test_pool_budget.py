"""One pool per process: the API process opens at most WATERNET_DB_POOL_MAX connections under 50
concurrent requests of every kind (issue 11, item 4).

The API runs in a subprocess of its own, so every connection it opens (pooled or not) is a
backend on the test database; a sampler thread counts them during the burst.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.isolation_api.demo_db import JWT_SECRET, add_user, demo_city_database
from tests.support.ingest import register
from tests.support.services import PgServer
from waternet.demo.embedded import free_port
from waternet.ingest.codecs import cjt188
from waternet.ingest.formats import platforms

POOL_MAX = 4
KEY = "ctwing-key-pool"
REPO = Path(__file__).resolve().parents[3]
OTHER_APP = "waternet-pool-test-unnamed"  # libpq default for connections that set no name


@pytest.fixture(scope="module")
def api_server(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    with demo_city_database(pg_server) as url:
        register(url, ["PT-P01-000001"], imeis={"PT-P01-000001": "861234567890123"})
        asyncio.run(add_user(url, name="ann", password="analyst-pw-1", role="analyst"))
        port = free_port(0)
        env = dict(os.environ)
        env.update(
            WATERNET_DATABASE_URL=url,
            WATERNET_DB_POOL_MAX=str(POOL_MAX),
            WATERNET_CTWING_KEY=KEY,
            WATERNET_JWT_SECRET=JWT_SECRET,
            WATERNET_STATE_DIR=str(tmp_path_factory.mktemp("state")),
            WATERNET_LOG_JSON="false",
            WATERNET_LOG_LEVEL="WARNING",
            WATERNET_ROLLUP_REFRESH_SECONDS="3600",
            WATERNET_MAINTENANCE_HOURS="1000",
            PGAPPNAME=OTHER_APP,
            PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "waternet.api.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=REPO,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                assert proc.poll() is None, "the API process exited"
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield base, url
        finally:
            proc.terminate()
            proc.wait(30)


def _backends(conn: psycopg.Connection[Any], db: str) -> list[str]:
    rows = conn.execute(
        "SELECT coalesce(application_name, '') FROM pg_stat_activity "
        "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        (db,),
    ).fetchall()
    return [r[0] for r in rows]


class Sampler(threading.Thread):
    """Counts the API process's backends on the test database until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.db = url, psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        self.stop = threading.Event()
        self.samples: list[list[str]] = []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                self.samples.append(_backends(conn, str(self.db)))


def _requests(token: str, demo_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    from waternet.network import service

    model = service.load_active(demo_url).model
    node = next(n for n in model.nodes if n.lon is not None)
    pipe = next(lk.id for lk in model.links if lk.kind == "pipe")
    now = datetime.now(UTC).replace(microsecond=0)
    frame = cjt188.encode_read_reply(address="00000000000001", volume_m3=12.5, meter_time=now)
    push = platforms.push_body(
        platforms.ctwing_push(imei="861234567890123", device_id="dev1", frame=frame, ts=now)
    )
    auth = {"Authorization": f"Bearer {token}"}
    span = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
    world = {
        "bbox": f"{node.lon - 0.01},{node.lat - 0.01},{node.lon + 0.01},{node.lat + 0.01}",
        "zoom": 16,
    }
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/sensors", {"headers": auth}),
        ("GET", "/api/v1/latest", {"headers": auth}),
        ("GET", "/api/v1/sensors/PT-P01-000001/readings", {"headers": auth, "params": span}),
        ("GET", "/api/v1/network/versions", {"headers": auth}),
        ("GET", "/api/v1/network/layers/pipes", {"headers": auth, "params": world}),
        (
            "GET",
            "/api/v1/network/pick",
            {"headers": auth, "params": {"lon": node.lon, "lat": node.lat, "tolerance_m": 200}},
        ),
        ("POST", "/api/v1/isolation/plans", {"headers": auth, "json": {"pipe": pipe}}),
        ("GET", "/api/v1/isolation/criticality", {"headers": auth}),
        ("POST", f"/api/v1/ingest/ctwing?key={KEY}", {"content": push}),
        ("POST", "/api/v1/auth/token", {"data": {"username": "ann", "password": "analyst-pw-1"}}),
    ]
    return [kinds[i % len(kinds)] for i in range(50)]


async def _burst(base: str, requests: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:
        got = await asyncio.gather(*(client.request(m, p, **kw) for m, p, kw in requests))
    return [r.status_code for r in got]


def test_api_process_stays_within_its_pool_budget(api_server: tuple[str, str]) -> None:
    base, url = api_server
    r = httpx.post(
        base + "/api/v1/auth/token", data={"username": "ann", "password": "analyst-pw-1"}
    )
    assert r.status_code == 200, r.text
    requests = _requests(r.json()["access_token"], url)
    db = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    with psycopg.connect(url, autocommit=True) as conn:
        # the start-up runs of the background loops are over before the burst
        for _ in range(600):
            if OTHER_APP not in _backends(conn, db):
                break
            time.sleep(0.1)
    sampler = Sampler(url)
    sampler.start()
    try:
        statuses = asyncio.run(_burst(base, requests))
    finally:
        sampler.stop.set()
        sampler.join()
    assert all(s in (200, 201) for s in statuses), list(zip(statuses, requests, strict=True))
    assert sampler.samples
    peak = max(len(s) for s in sampler.samples)
    assert 0 < peak <= POOL_MAX, max(sampler.samples, key=len)
    # every connection of the API process carries the pool's application name
    assert {name for s in sampler.samples for name in s} == {"waternet-api"}
