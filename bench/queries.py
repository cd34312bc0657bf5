"""Time-series store benchmark: load readings by binary COPY, then time the hot queries and the
rollup refresh.

    .venv/bin/python bench/queries.py --url postgresql://postgres@127.0.0.1:5432/postgres \
        [--sensors 10000] [--days 1] [--history-days 365] [--mode auto|timescaledb|postgres]

It creates a dedicated database (``wn_bench_<random>``), migrates it, loads
``sensors x days x 1440`` readings (one a minute) plus ``history-days`` of one-minute readings
for the DMA boundary meters and one trace sensor, and prints p50/p99 for:

* the latest value of every sensor (target p99 < 50 ms for 10,000 sensors),
* one sensor's 30 days at 1 h (target p99 < 20 ms),
* one DMA's minimum night flow over a year (target p99 < 50 ms),

and the rollup refresh rate (raw rows/s of on-time readings rolled up by range, late keys/s)
next to the ingest-shaped write rate (stage + insert, with and without ``mark_dirty``).
The database is dropped at the end (``--keep`` keeps it). The issue's full size is
``--sensors 10000 --days 7`` (100 million).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg.rows import dict_row

from waternet.db import migrate
from waternet.timeseries import lifecycle, rollups
from waternet.timeseries import repository as repo
from waternet.timeseries.analytics import service as balance_service

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ROW = np.dtype(
    [
        ("nf", ">i2"),
        ("l1", ">i4"),
        ("sid", ">i4"),
        ("l2", ">i4"),
        ("ts", ">i8"),
        ("l3", ">i4"),
        ("val", ">f8"),
        ("l4", ">i4"),
        ("q", ">i2"),
    ]
)
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
DMA = "B001"


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def copy_block(sid: np.ndarray, ts_us: np.ndarray, val: np.ndarray) -> bytes:
    """Rows in PostgreSQL binary COPY format (readings: sensor_id, ts, value, quality)."""
    a = np.empty(sid.size, dtype=ROW)
    a["nf"], a["l1"], a["l2"], a["l3"], a["l4"] = 4, 4, 8, 8, 2
    a["sid"], a["ts"], a["val"], a["q"] = sid, ts_us, val, 0
    return a.tobytes()


def copy_rows(conn: psycopg.Connection[Any], blocks: Any) -> int:
    n = 0
    with (
        conn.cursor() as cur,
        cur.copy("COPY readings (sensor_id, ts, value, quality) FROM STDIN (FORMAT BINARY)") as cp,
    ):
        cp.write(HEADER)
        for sid, ts_us, val in blocks:
            cp.write(copy_block(sid, ts_us, val))
            n += sid.size
        cp.write(TRAILER)
    conn.commit()
    return n


def us(t: datetime) -> int:
    return (t - PG_EPOCH) // timedelta(microseconds=1)


def minute_blocks(ids: np.ndarray, start: datetime, minutes: int, rng: Any, per: int = 30) -> Any:
    """Yield ``per`` minutes of readings of every sensor at a time (time-major, like ingest)."""
    base = us(start)
    for m0 in range(0, minutes, per):
        m = np.arange(m0, min(m0 + per, minutes), dtype=np.int64)
        ts = np.repeat(base + m * 60_000_000, ids.size)
        sid = np.tile(ids, m.size)
        yield sid, ts, 30 + 5 * rng.standard_normal(sid.size)


MINUTE = timedelta(minutes=1)


def on_time(conn: psycopg.Connection[Any], start: datetime) -> None:
    """Readings from ``start`` on are on time for the refresher (threshold and watermark)."""
    with conn.transaction():
        conn.execute("UPDATE rollup_watermark SET threshold = %s, done = %s", (start, start))


def pct(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float, Any]:
    out = await fn()  # warm-up
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = await fn()
        ms.append((time.perf_counter() - t0) * 1000)
    p50, p99 = pct(ms)
    return p50, p99, out


def ingest_shaped(
    conn: psycopg.Connection[Any],
    ids: np.ndarray,
    start: datetime,
    batches: int,
    mark: bool,
    step: timedelta = timedelta(minutes=1),
) -> float:
    """Readings/s of the writer's statements (binary COPY to a stage, INSERT ... ON CONFLICT,
    and ``mark_dirty`` when ``mark``), one reading of every sensor per batch, ``step`` apart."""
    rng = np.random.default_rng(3)
    n = 0
    t0 = time.perf_counter()
    for b in range(batches):
        sid = ids
        ts = np.full(ids.size, us(start + b * step), dtype=np.int64)
        val = 30 + 5 * rng.standard_normal(ids.size)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS ingest_stage (sensor_id int NOT NULL, ts "
                "timestamptz NOT NULL, value float8 NOT NULL, quality int2 NOT NULL) "
                "ON COMMIT DELETE ROWS"
            )
            with cur.copy(
                "COPY ingest_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.write(HEADER + copy_block(sid, ts, val) + TRAILER)
            cur.execute(
                "INSERT INTO readings (sensor_id, ts, value, quality) SELECT sensor_id, ts, "
                "value, quality FROM ingest_stage ON CONFLICT (sensor_id, ts) DO NOTHING"
            )
            if mark:
                rollups.mark_dirty(cur)
        n += sid.size
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=1.0, help="days of 1/min readings per sensor")
    ap.add_argument("--history-days", type=int, default=365)
    ap.add_argument("--mode", default="auto", choices=["auto", "timescaledb", "postgres"])
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--refresh-minutes", type=int, default=60, help="slice timed for refresh")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    name = f"wn_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_db(args.url, name)
    try:
        run(url, args)
    finally:
        if not args.keep:
            with psycopg.connect(args.url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}")


def run(url: str, args: argparse.Namespace) -> None:
    migrate.upgrade(url, storage_mode=args.mode)
    rng = np.random.default_rng(6)
    minutes = int(args.days * 1440)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes)
    hist_start = end - timedelta(days=args.history_days)
    with psycopg.connect(url) as conn:
        mode = conn.execute("SELECT value #>> '{}' FROM waternet_meta WHERE key='storage_mode'")
        row = mode.fetchone()
        print(f"database {url.rsplit('/', 1)[1]}, storage mode {row[0] if row else '?'}")
        with conn.cursor() as cur:
            lifecycle.ensure_partitions_between(
                cur, hist_start.date(), (end + timedelta(days=2)).date()
            )
            lon = 121.0 + rng.random(args.sensors)
            lat = 31.0 + rng.random(args.sensors)
            with cur.copy("COPY sensors (code, kind, unit, dma, lon, lat) FROM STDIN") as cp:
                for i in range(args.sensors):
                    dma = f"B{1 + i % 50:03d}"
                    cp.write_row((f"PT-{dma}-{i:06d}", "PT", "m", dma, lon[i], lat[i]))
                for i in range(4):
                    cp.write_row((f"FT-{DMA}-{i:06d}", "FT", "L/s", DMA, 121.5, 31.5))
            cur.execute("SELECT id FROM sensors WHERE kind = 'PT' ORDER BY id")
            ids = np.array([r[0] for r in cur.fetchall()], dtype=np.int32)
            cur.execute("SELECT id FROM sensors WHERE kind = 'FT' ORDER BY id")
            hist = np.array([r[0] for r in cur.fetchall()], dtype=np.int32)
            cur.executemany(
                "INSERT INTO dma_boundary_meters VALUES (%s, %s, %s)",
                [(DMA, int(hist[0]), 1), (DMA, int(hist[1]), 1), (DMA, int(hist[2]), -1)],
            )
        conn.commit()

        t0 = time.perf_counter()
        n_main = copy_rows(conn, minute_blocks(ids, start, minutes, rng))
        t_main = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_hist = copy_rows(conn, minute_blocks(hist, hist_start, args.history_days * 1440, rng))
        t_hist = time.perf_counter() - t0
        conn.execute(
            "INSERT INTO latest_readings (sensor_id, ts, value) SELECT DISTINCT ON (sensor_id) "
            "sensor_id, ts, value FROM readings WHERE ts >= %s ORDER BY sensor_id, ts DESC",
            (end - timedelta(minutes=5),),
        )
        conn.execute("ANALYZE")
        conn.commit()
        total = n_main + n_hist
        print(
            f"loaded {total:,} readings by binary COPY: {args.sensors:,} sensors x "
            f"{args.days:g} days x 1/min = {n_main:,} ({n_main / t_main:,.0f} rows/s) + "
            f"{len(hist)} sensors x {args.history_days} days = {n_hist:,} "
            f"({n_hist / t_hist:,.0f} rows/s)"
        )

        # rollups: the history sensors (for the queries), timed
        t0 = time.perf_counter()
        rollups.rebuild(conn, start=hist_start, end=end, sensor_ids=hist.tolist(), batch=200_000)
        t_h = time.perf_counter() - t0
        print(
            f"rollups of the history sensors: {n_hist:,} raw rows in {t_h:.1f} s "
            f"= {n_hist / t_h:,.0f} rows/s (all four levels)"
        )
        # refresh rate on a slice of every sensor: on time (by range), then late (by key)
        s0 = end - timedelta(minutes=min(args.refresh_minutes, minutes))
        on_time(conn, s0)
        t0 = time.perf_counter()
        got = rollups.refresh_all(conn, lag=timedelta(0))
        t_ref = time.perf_counter() - t0
        rows_in = conn.execute(
            "SELECT count(*) FROM readings WHERE ts >= %s AND ts < now()", (s0,)
        ).fetchone()
        n_in = int(rows_in[0]) if rows_in else 0
        print(
            f"rollup refresh, on-time readings (by range): {n_in:,} raw rows ({got:,} 1-min "
            f"buckets) in {t_ref:.1f} s = {n_in / t_ref:,.0f} rows/s, all four levels"
        )
        s1 = end - timedelta(minutes=min(10, minutes))
        with conn.transaction(), conn.cursor() as cur:
            t0 = time.perf_counter()
            keys = rollups.mark_range_dirty(cur, start=s1, end=end, sensor_ids=ids.tolist())
            t_mark = time.perf_counter() - t0
        t0 = time.perf_counter()
        rollups.refresh_all(conn, batch=100_000)
        t_key = time.perf_counter() - t0
        print(
            f"rollup refresh, late readings (by key): {keys:,} dirty 1-min keys in {t_key:.1f} s"
            f" = {keys / t_key:,.0f} keys/s (marking them in bulk took {t_mark:.1f} s)"
        )
        batches = 20
        after = end + timedelta(minutes=1)
        # live ingest writes on-time readings: put the threshold at the start of each phase's
        # data (the bench's timestamps run ahead of the wall clock the refresher follows)
        on_time(conn, after)
        plain = ingest_shaped(conn, ids, after, batches, mark=False)
        marked = ingest_shaped(conn, ids, after + timedelta(minutes=batches), batches, mark=True)
        t0 = time.perf_counter()
        rollups.refresh_all(conn, lag=datetime.now(UTC) - (after + 2 * batches * MINUTE + MINUTE))
        t_inc = time.perf_counter() - t0
        n_inc = 2 * batches * ids.size
        print(
            f"ingest-shaped writes, one reading per sensor-minute ({ids.size:,} rows per batch): "
            f"{plain:,.0f} rows/s without mark_dirty, {marked:,.0f} rows/s with it "
            f"({(1 - marked / plain) * 100:.0f}% cost); rolling up those {n_inc:,} readings "
            f"(every one its own 1-minute bucket, the worst case): {n_inc / t_inc:,.0f} rows/s "
            f"= {n_inc / t_inc / marked:.2f} x the write rate"
        )
        # the ingest benchmark's shape: every sensor several times a minute (there: 20,000
        # sensors at ~120,000 readings/s, ~6 a second each); here one a second for a minute
        later = after + timedelta(minutes=2 * batches + 1)
        on_time(conn, later)
        wrote = ingest_shaped(conn, ids, later, 60, mark=True, step=timedelta(seconds=1))
        t0 = time.perf_counter()
        rollups.refresh_all(conn, lag=datetime.now(UTC) - (later + 2 * MINUTE))
        t_sec = time.perf_counter() - t0
        rate = 60 * ids.size / t_sec
        print(
            f"ingest-benchmark-shaped writes, one reading per sensor-second: {wrote:,.0f} "
            f"rows/s; rolling them up: {rate:,.0f} rows/s = {rate / wrote:.2f} x the write rate "
            f"(keeps up: {'PASS' if rate >= wrote else 'FAIL'})"
        )

    asyncio.run(queries(url, ids, hist, end, args))


async def queries(
    url: str, ids: np.ndarray, hist: np.ndarray, end: datetime, args: argparse.Namespace
) -> None:
    # like the API's pool: dict rows, implicit transactions
    conn = await psycopg.AsyncConnection.connect(url, row_factory=dict_row)
    try:
        r = args.repeat

        async def latest() -> tuple[int, str]:
            out = await repo.latest_json(
                conn, bbox=None, dma=None, kinds=None, limit=50_000, tz="Asia/Shanghai"
            )
            await conn.rollback()
            return out

        p50, p99, (n, _doc) = await timed(latest, r)
        print(
            f"latest value of {n:,} sensors (JSON built by the server): p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms (target p99 < 50 ms)"
        )
        p50, p99, rows = await timed(
            lambda: repo.series(
                conn,
                level="1h",
                sensor_id=int(hist[3]),
                start=end - timedelta(days=30),
                end=end,
                limit=5000,
            ),
            r,
        )
        print(
            f"one sensor, 30 days at 1 h ({len(rows)} points): p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms (target p99 < 20 ms)"
        )
        first: date = (end - timedelta(days=365)).date()
        last: date = end.date()
        p50, p99, rows = await timed(
            lambda: repo.night_net_flow(
                conn,
                sensor_ids=[int(x) for x in hist[:3]],
                directions=[1, 1, -1],
                first=first,
                last=last,
                tz="Asia/Shanghai",
            ),
            r,
        )
        print(
            f"one DMA's night flow for a year, SQL (net flow of {len(rows):,} 15-min buckets): p50 "
            f"{p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms)"
        )
        p50, p99, out = await timed(
            lambda: balance_service.night_flow(conn, dma=DMA, first=first, last=last), r
        )
        print(
            f"  same through the service (MNF per day + trend, {len(out['days'])} days): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
