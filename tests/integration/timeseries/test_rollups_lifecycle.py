"""Rollups and retention on every storage mode, checked against SQL on raw readings and
against Python on the input."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import psycopg

from tests.integration.timeseries.helpers import (
    add_sensor,
    assert_same,
    reference,
    stored,
    write_batch,
)
from tests.support.services import PgServer
from waternet.jobs.models import Job
from waternet.jobs.runner import Runner
from waternet.timeseries import lifecycle, rollups
from waternet.timeseries.levels import LEVELS, bucket_expr

TZ = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)

RAW_SQL = """
SELECT sensor_id, {b} AS bucket, count(*), min(value), max(value), sum(value), min(ts),
       (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM readings GROUP BY 1, 2
"""


def sql_reference(conn: psycopg.Connection, level) -> dict:  # type: ignore[no-untyped-def, type-arg]
    rows = conn.execute(
        RAW_SQL.format(b=bucket_expr(level, "ts")), {"tz": "Asia/Shanghai"}
    ).fetchall()
    return {(r[0], r[1].astimezone(UTC)): tuple(r[2:]) for r in rows}


def readings_for(sids: list[int], start: datetime, hours: int, rng: random.Random) -> list:  # type: ignore[type-arg]
    rows = []
    for sid in sids:
        seen = set()
        for _ in range(hours * 25):
            ts = start + timedelta(seconds=rng.randrange(hours * 3600))
            ts = ts.replace(microsecond=rng.choice([0, 250000]))
            if ts in seen:
                continue
            seen.add(ts)
            rows.append((sid, ts, round(rng.uniform(-5, 50), 3), 0))
    return rows


def set_watermark(conn: psycopg.Connection, t: datetime) -> None:  # type: ignore[type-arg]
    """Readings from ``t`` on are on time (rolled up by range), older ones late (by key)."""
    conn.execute("UPDATE rollup_watermark SET threshold = %s, done = %s", (t, t))
    conn.commit()


def test_every_level_matches_raw_including_late_readings(pg_server: PgServer) -> None:
    for mode in pg_server.modes():
        check_levels(pg_server, mode, on_time=False)


def test_on_time_readings_roll_up_by_range_without_keys(pg_server: PgServer) -> None:
    for mode in pg_server.modes():
        check_levels(pg_server, mode, on_time=True)


def check_levels(pg_server: PgServer, mode: str, *, on_time: bool) -> None:
    rng = random.Random(6)
    with pg_server.migrated_db(mode) as url, psycopg.connect(url) as conn:
        sids = [add_sensor(conn, f"PT-D1-{i:06d}", "PT") for i in range(3)]
        conn.commit()
        # last local day crossing the local midnight, plus an old day (default partition)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
        set_watermark(conn, start if on_time else datetime.now(UTC))
        first = readings_for(sids, start, 26, rng)
        old = readings_for(sids[:1], datetime(2025, 1, 15, 15, tzinfo=UTC), 12, rng)
        every = first + old
        for i in range(0, len(every), 500):
            write_batch(conn, every[i : i + 500])
        keys = rollups.dirty_backlog(conn)["dirty_keys"]
        old_keys = len({(sid, ts.replace(second=0, microsecond=0)) for sid, ts, _v, _q in old})
        if on_time:  # only the old day is late: no key for the 26 hours on time
            assert keys == old_keys
            # steps of at most an hour of raw time, each its own transaction
            assert rollups.refresh_dirty(conn, limit=1, lag=timedelta(0)) > 1
            assert rollups.dirty_backlog(conn)["materialized_to"] == start + timedelta(hours=1)
        else:
            assert keys > old_keys
            assert rollups.refresh_dirty(conn, limit=700) == 700  # a bounded batch
        # on time: steps shrink to bound each transaction's raw rows (minutes, here)
        rollups.refresh_all(conn, batch=5000, lag=timedelta(0), max_rows=20 if on_time else 10**6)
        assert rollups.dirty_backlog(conn)["dirty_keys"] == 0
        for lv in LEVELS:
            want = reference(every, lv.name, TZ)
            assert_same(stored(conn, lv.table), want)
            assert_same(sql_reference(conn, lv), want)

        # late readings into buckets already rolled up: new first/last/min/max, and a duplicate
        late = []
        for sid, ts, _v, _q in rng.sample(first, 40):
            late.append((sid, ts - timedelta(milliseconds=1), 99.5, 0))
            late.append((sid, ts + timedelta(milliseconds=1), -9.5, 0))
        late.append(first[0])  # redelivered: ON CONFLICT DO NOTHING, no change
        write_batch(conn, late)
        assert rollups.dirty_backlog(conn)["dirty_keys"] > 0  # late now, whatever they were
        rollups.refresh_all(conn)
        every = every + late[:-1]
        for lv in LEVELS:
            want = reference(every, lv.name, TZ)
            assert_same(stored(conn, lv.table), want)
            assert_same(sql_reference(conn, lv), want)


def test_refresher_skips_keys_of_uncommitted_writes(pg_server: PgServer) -> None:
    """A key being (re)marked by a writer whose readings are not committed is not cleared."""
    with (
        pg_server.migrated_db("postgres") as url,
        psycopg.connect(url) as a,
        psycopg.connect(url) as b,
    ):
        sid = add_sensor(a, "PT-D1-000009", "PT")
        a.commit()
        set_watermark(a, datetime.now(UTC).replace(second=0, microsecond=0))
        t = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
        write_batch(a, [(sid, t, 1.0, 0)])
        with a.cursor() as cur:  # writer B-side transaction left open
            cur.execute(
                "CREATE TEMP TABLE other_stage (sensor_id int, ts timestamptz, value float8,"
                " quality int2)"
            )
            cur.execute(
                "INSERT INTO other_stage VALUES (%s, %s, 5.0, 0)", (sid, t + timedelta(seconds=30))
            )
            cur.execute(
                "INSERT INTO readings SELECT sensor_id, ts, value, quality FROM other_stage"
            )
            rollups.mark_dirty(cur, staging_table="other_stage")
        assert rollups.refresh_dirty(b) == 0  # the only key is locked by the open writer
        a.commit()
        assert rollups.refresh_dirty(b) == 1
        row = b.execute("SELECT n, vmax FROM readings_1m WHERE sensor_id = %s", (sid,)).fetchone()
        assert row == (2, 5.0)


def test_threshold_waits_for_writers_in_flight(pg_server: PgServer) -> None:
    """An on-time reading not yet committed when the refresher raises the threshold is rolled
    up all the same: the raise waits for the writer, then the range sees the reading."""
    with (
        pg_server.migrated_db(pg_server.modes()[0]) as url,
        psycopg.connect(url) as a,
        psycopg.connect(url) as b,
    ):
        sid = add_sensor(a, "PT-D1-000011", "PT")
        a.commit()
        t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
        set_watermark(a, t0)
        with a.cursor() as cur:  # a writer's batch, on time, left uncommitted
            cur.execute(
                "CREATE TEMP TABLE other_stage (sensor_id int, ts timestamptz, value float8,"
                " quality int2)"
            )
            cur.execute("INSERT INTO other_stage VALUES (%s, %s, 7.0, 0)", (sid, t0))
            cur.execute(
                "INSERT INTO readings SELECT sensor_id, ts, value, quality FROM other_stage"
            )
            rollups.mark_dirty(cur, staging_table="other_stage")
        assert rollups.dirty_backlog(b)["dirty_keys"] == 0  # on time: no key
        result: list[int] = []
        refresher = threading.Thread(
            target=lambda: result.append(rollups.refresh_dirty(b, lag=timedelta(0)))
        )
        refresher.start()
        refresher.join(0.5)
        assert refresher.is_alive()  # waiting for the writer in flight
        a.commit()
        refresher.join(10)
        assert result == [1]
        row = a.execute("SELECT n, vmax FROM readings_1m WHERE sensor_id = %s", (sid,)).fetchone()
        assert row == (1, 7.0)
        # the next batch compares with the raised threshold: the same minute is late now
        write_batch(a, [(sid, t0 + timedelta(seconds=30), 9.0, 0)])
        assert rollups.dirty_backlog(a)["dirty_keys"] == 1


def test_retention_drops_old_raw_and_keeps_rollups_on_every_mode(pg_server: PgServer) -> None:
    for mode in pg_server.modes():
        check_retention(pg_server, mode)


def check_retention(pg_server: PgServer, mode: str) -> None:
    now = datetime.now(UTC)
    with pg_server.migrated_db(mode) as url, psycopg.connect(url) as conn:
        sid = add_sensor(conn, "FT-D1-000001", "FT")
        conn.commit()
        old_day = (now - timedelta(days=500)).replace(hour=6, minute=0, second=0, microsecond=0)
        older = (now - timedelta(days=800)).replace(hour=6, minute=0, second=0, microsecond=0)
        recent = (now - timedelta(days=10)).replace(hour=6, minute=0, second=0, microsecond=0)
        with conn.cursor() as cur:  # one old day gets its own partition, another stays in default
            lifecycle.ensure_partitions_between(cur, old_day.date(), old_day.date())
        conn.commit()
        rows = [
            (sid, day + timedelta(minutes=m), float(m), 0)
            for day in (older, old_day, recent)
            for m in range(0, 180, 7)
        ]
        write_batch(conn, rows)
        rollups.refresh_all(conn)
        before = {lv.table: stored(conn, lv.table) for lv in LEVELS}
        policy = lifecycle.RetentionPolicy(
            raw_days=400, level_days={"1m": 600, "15m": 1825, "1h": 3650, "1d": None}
        )
        with conn.transaction(), conn.cursor() as cur:
            report = lifecycle.apply_retention(cur, policy=policy, now=now)
        assert report.mode == ("postgres" if mode == "postgres" else "timescaledb-apache")
        assert report.dropped["readings"] >= 1
        left = conn.execute("SELECT min(ts), count(*) FROM readings").fetchone()
        assert left is not None and left[0] >= recent and left[1] == 26
        for lv in LEVELS:
            after = stored(conn, lv.table)
            if lv.name == "1m":  # 600 days: the 800-day-old buckets go, the 500-day-old stay
                assert {k for k in after} == {
                    k for k in before[lv.table] if k[1] >= now - timedelta(days=600)
                }
            else:
                assert after == before[lv.table]
            assert any(k[1] < now - timedelta(days=400) for k in after)
        # a late reading for a recent bucket still refreshes correctly after retention
        write_batch(conn, [(sid, recent + timedelta(minutes=1), 1000.0, 0)])
        rollups.refresh_all(conn)
        got = conn.execute(
            "SELECT vmax FROM readings_1d WHERE sensor_id = %s ORDER BY bucket DESC LIMIT 1",
            (sid,),
        ).fetchone()
        assert got == (1000.0,)


def test_jobs_runner_refresher_catches_up_and_stops(pg_server: PgServer) -> None:
    with pg_server.migrated_db("postgres") as url, psycopg.connect(url) as conn:
        sid = add_sensor(conn, "PT-D1-000010", "PT")
        conn.commit()
        t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * H
        write_batch(conn, [(sid, t + timedelta(seconds=20 * i), float(i), 0) for i in range(9)])

        async def go() -> None:
            refresh = partial(rollups.refresh_database, url)
            job = Job("rollup-refresh", 0.05, refresh, singleton=True)
            runner = Runner([job], url=url)
            await runner.start()
            for _ in range(200):
                await asyncio.sleep(0.05)
                backlog = rollups.dirty_backlog(conn)
                if backlog["dirty_keys"] == 0 and backlog["materialized_to"] > t + H:
                    break
            await runner.stop()
            assert runner.status["rollup-refresh"].failures == 0

        asyncio.run(go())
        row = conn.execute(
            "SELECT n, vsum, first_value, last_value FROM readings_1h WHERE sensor_id = %s",
            (sid,),
        ).fetchone()
        assert row == (9, 36.0, 0.0, 8.0)
