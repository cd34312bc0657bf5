"""Ingest benchmark: the database's ceiling, a naive MQTT-to-database bridge, and waternet end to
end from publish to commit, measured in the same run on this machine.

    .venv/bin/python bench/ingest.py [--quick] [--soak SECONDS] [--mqtt URL|private] [--db URL]

* **ceiling**: binary COPY into the writer's staging table + ``INSERT ... ON CONFLICT DO NOTHING``
  into ``readings`` (the SQL of ``waternet.ingest.repository``), 5,000 rows a transaction,
  from one Python client; also the writer's full transaction (+ latest value, + rollup keys).
* **naive bridge**: a paho subscriber doing one autocommit ``INSERT`` per MQTT message, as
  common MQTT-to-database scripts do.
* **waternet**: a real ``waternet ingest`` subprocess; the publisher (``simulators.fastmqtt``,
  pipelined QoS 1) runs in another process. Throughput = readings published / (last commit -
  first publish); commits are read from the worker's Prometheus counter and checked against
  ``count(*)`` at the end (every reading stored exactly once).
* **latency** at a paced 20,000 readings/s: each message's readings are stamped with its publish
  time (``ts``); ``readings.received_at`` defaults to ``now()``, the *start* of the worker's
  transaction, so ``received_at - ts`` is publish-to-transaction-start. Adding the largest commit
  duration (bucket bound of the worker's ``waternet_ingest_commit_seconds``) gives an upper
  bound of publish-to-commit: p99(A + B) <= p99(A) + max(B).
* **soak**: the worker's RSS sampled every 10 s under a paced stream; least-squares slope.

It creates a dedicated database ``wn_bench_ingest_<random>`` (migrated, sensors registered) and
drops it at the end (``--keep`` keeps it). ``--mqtt private`` starts a private Mosquitto with
``deploy/mosquitto/test.conf`` (the same production queue limits as the shared one on 1884),
so the benchmark's millions of messages never reach other processes' subscriptions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from waternet.timeseries.levels import LEVELS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent / "waternet"
SENSORS = 20_000
ZONE = "B01"


def code(i: int) -> str:
    return f"PT-{ZONE}-{i + 1:06d}"


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


# --- publisher process ---------------------------------------------------------------------


def publish_main(spec: dict[str, Any]) -> None:
    """Runs in its own process: publish ``readings`` (batch or single) at ``rate`` (0: flat out),
    each message's readings stamped with its publish time (ms, strictly increasing per sensor)."""
    from simulators.fastmqtt import FastMqttPublisher

    batch, total, rate = spec["batch"], spec["readings"], spec["rate"]
    sensors = spec["sensors"]
    slots = sensors // batch
    pub = FastMqttPublisher(
        spec["mqtt"], client_id=f"bench-pub-{uuid.uuid4().hex[:8]}", qos=1, max_inflight=1000
    )
    values = [f"{40 + (i % 997) / 100:.2f}".encode() for i in range(sensors)]
    if batch == 1:
        topics = [f"waternet/v1/telemetry/{code(i)}" for i in range(sensors)]
        tails = [b',"v":' + values[i] + b',"q":0}' for i in range(sensors)]
    else:
        topics = [f"waternet/v1/batch/BGW-{j:04d}" for j in range(slots)]
        frags = []
        for j in range(slots):
            parts = [b'{"readings":[{"s":"' + code(j * batch).encode() + b'","ts":']
            for k in range(1, batch):
                parts.append(
                    b',"v":'
                    + values[j * batch + k - 1]
                    + b',"q":0},{"s":"'
                    + code(j * batch + k).encode()
                    + b'","ts":'
                )
            parts.append(b',"v":' + values[j * batch + batch - 1] + b',"q":0}]}')
            frags.append(parts)
    last = [0] * (sensors if batch == 1 else slots)
    n = msgs = 0
    t0 = time.time()
    p0 = time.perf_counter()
    while n < total:
        slot = msgs % len(last)
        ts = max(int(time.time() * 1000), last[slot] + 1)
        last[slot] = ts
        tsb = str(ts).encode()
        if batch == 1:
            pub.publish(topics[slot], b'{"ts":' + tsb + tails[slot])
        else:
            pub.publish(topics[slot], tsb.join(frags[slot]))
        n += batch
        msgs += 1
        if rate:
            ahead = n / rate - (time.perf_counter() - p0)
            if ahead > 0.002:
                pub._send()  # push what is buffered before sleeping (paced: keep latency honest)
                time.sleep(ahead)
    t_sent = time.time()
    ok = pub.flush(timeout=600)
    out = {
        "t0": t0,
        "t_sent": t_sent,
        "t_acked": time.time(),
        "readings": n,
        "messages": msgs,
        "acked": pub.acked,
        "flushed": ok,
    }
    pub.close()
    print(json.dumps(out), flush=True)


def start_publisher(mqtt: str, *, batch: int, readings: int, rate: float) -> subprocess.Popen[str]:
    spec = {"mqtt": mqtt, "batch": batch, "readings": readings, "rate": rate, "sensors": SENSORS}
    return subprocess.Popen(
        [sys.executable, __file__, "--publisher", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def publisher_result(p: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = p.communicate(timeout=900)
    return dict(json.loads(out.strip().splitlines()[-1]))


# --- database ------------------------------------------------------------------------------


class BenchDb:
    def __init__(self, admin_url: str) -> None:
        from waternet.db import migrate
        from waternet.sensors import service as sensors_service

        self.admin = admin_url
        self.name = f"wn_bench_ingest_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        self.url = with_db(admin_url, self.name)
        migrate.upgrade(self.url)
        sensors_service.register_sensors(self.url, [{"code": code(i)} for i in range(SENSORS)])
        with psycopg.connect(self.url) as c:
            self.mode = str(
                c.execute(
                    "SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'"
                ).fetchone()[0]
            )  # type: ignore[index]
            self.ids = [r[0] for r in c.execute("SELECT id FROM sensors ORDER BY code")]

    def reset(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as c:
            tables = ["readings", "latest_readings", "quarantine", "rollup_dirty"]
            tables += [lv.table for lv in LEVELS]
            c.execute(f"TRUNCATE {', '.join(tables)}")
            c.execute(
                "UPDATE rollup_watermark SET threshold = date_trunc('minute', now()), "
                "done = date_trunc('minute', now())"
            )
            c.execute("CHECKPOINT")

    def count(self) -> int:
        with psycopg.connect(self.url) as c:
            return int(c.execute("SELECT count(*) FROM readings").fetchone()[0])  # type: ignore[index]

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def ceiling(db: BenchDb, seconds: float, *, full_writer: bool) -> float:
    from waternet.ingest import repository
    from waternet.timeseries.rollups import mark_dirty

    ids = db.ids
    base = datetime.now(UTC)  # on time: what the writer sees in normal operation
    rows_done = 0
    rnd = 0
    with psycopg.connect(db.url) as conn:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for start in range(0, len(ids), 5000):
                ts = base + timedelta(milliseconds=rnd)
                rows = [(sid, ts, 45.25, 0) for sid in ids[start : start + 5000]]
                with conn.transaction(), conn.cursor() as cur:
                    if full_writer:
                        repository.write_rows(cur, rows)
                        mark_dirty(cur, staging_table="ingest_stage")
                    else:
                        cur.execute(repository.STAGE_DDL)
                        with cur.copy(repository.STAGE_COPY) as copy:
                            copy.set_types(repository.STAGE_TYPES)
                            for row in rows:
                                copy.write_row(row)
                        cur.execute(repository.INSERT_READINGS)
                rows_done += len(rows)
            rnd += 1
        dt = time.perf_counter() - t0
    return rows_done / dt


def refresh_rate(db: BenchDb) -> dict[str, float]:
    """Roll up every stored reading (all four levels, on-time path) as the API process's
    refresher would; raw rows/s, checked: the daily buckets count every reading once."""
    from waternet.timeseries import rollups

    with psycopg.connect(db.url) as conn:
        n = int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])  # type: ignore[index]
        t0 = time.perf_counter()
        rollups.refresh_all(conn, lag=timedelta(minutes=-10))  # up to now + 10 min: everything
        dt = time.perf_counter() - t0
        rolled = conn.execute("SELECT sum(n) FROM readings_1d").fetchone()[0]  # type: ignore[index]
        keys = conn.execute("SELECT count(*) FROM readings_1m").fetchone()[0]  # type: ignore[index]
    assert rolled == n, f"daily rollups count {rolled} readings of {n}"
    return {"rows": n, "seconds": dt, "rate": n / dt, "buckets_1m": int(keys)}


def naive_bridge(db: BenchDb, mqtt: str, messages: int) -> float:
    """One autocommit INSERT per message from a paho subscriber's callback."""
    import paho.mqtt.client as pmqtt

    from waternet.config import MqttUrl

    m = MqttUrl(mqtt)
    ids = dict(zip((code(i) for i in range(SENSORS)), db.ids, strict=True))
    conn = psycopg.connect(db.url, autocommit=True)
    done = threading.Event()
    state = {"n": 0, "last": 0.0}
    sql = "INSERT INTO readings (sensor_id, ts, value, quality) VALUES (%s, %s, %s, %s)"

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        doc = json.loads(msg.payload)
        sid = ids[msg.topic.rsplit("/", 1)[-1]]
        ts = datetime.fromtimestamp(doc["ts"] / 1000, UTC)
        conn.execute(sql, (sid, ts, doc["v"], doc.get("q", 0)))
        state["n"] += 1
        if state["n"] >= messages:
            state["last"] = time.time()
            done.set()

    subscribed = threading.Event()
    client = pmqtt.Client(
        pmqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-naive-{uuid.uuid4().hex[:8]}",
        clean_session=True,
    )
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe("waternet/v1/telemetry/+", qos=1)
    client.connect(m.host, m.port)
    client.loop_start()
    assert subscribed.wait(10), "naive bridge did not subscribe"
    pub = start_publisher(mqtt, batch=1, readings=messages, rate=0)
    res = publisher_result(pub)
    assert done.wait(600), f"naive bridge stored {state['n']} of {messages}"
    client.disconnect()
    client.loop_stop()
    conn.close()
    assert db.count() == messages
    return messages / (state["last"] - res["t0"])


# --- the waternet worker -------------------------------------------------------------------


class Worker:
    """``waternet ingest`` as a subprocess, with its Prometheus endpoint."""

    def __init__(self, db: BenchDb, mqtt: str, state: Path) -> None:
        from waternet.demo.embedded import free_port

        self.port = free_port(0)
        cid = f"bench-ingest-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "WATERNET_DATABASE_URL": db.url,
            "WATERNET_MQTT_URL": mqtt,
            "WATERNET_STATE_DIR": str(state),
            "WATERNET_LOG_JSON": "false",
            "WATERNET_INGEST_SHARE_GROUP": f"bench{uuid.uuid4().hex[:8]}",
        }
        self.log = (state / f"{cid}.log").open("w")
        self.proc = subprocess.Popen(
            [str(BIN), "ingest", "--client-id", cid, "--metrics-port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "connected" in line, f"worker did not start: {line!r}"

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def accepted(self) -> float:
        return self.metrics().get("waternet_ingest_readings_accepted_total", 0.0)

    def wait_accepted(self, n: int, timeout: float = 900) -> float:
        """Poll the commit counter every 50 ms; the time it first reached ``n``."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.accepted() >= n:
                return time.time()
            time.sleep(0.05)
        raise TimeoutError(f"worker committed {self.accepted()} of {n}")

    def rss(self) -> int:
        import psutil

        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=60)
        self.log.close()
        return out


def histogram(m: dict[str, float], name: str) -> list[tuple[float, float]]:
    pat = re.compile(re.escape(name) + r'_bucket\{le="([^"]+)"\}')
    return sorted((float(g.group(1)), v) for k, v in m.items() if (g := pat.fullmatch(k)))


def hist_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Upper bound of the bucket holding the q-quantile (inf when beyond the last bucket)."""
    total = buckets[-1][1] if buckets else 0
    for le, cum in buckets:
        if total and cum >= q * total:
            return le
    return float("nan")


def throughput(db: BenchDb, mqtt: str, state: Path, *, batch: int, readings: int) -> dict[str, Any]:
    db.reset()
    w = Worker(db, mqtt, state)
    try:
        pub = start_publisher(mqtt, batch=batch, readings=readings, rate=0)
        t_done = w.wait_accepted(readings)
        res = publisher_result(pub)
        m = w.metrics()
    finally:
        w.stop()
    stored = db.count()
    dt = t_done - res["t0"]
    return {
        "readings": readings,
        "stored": stored,
        "seconds": dt,
        "rate": readings / dt,
        "msg_rate": res["messages"] / dt,
        "publish_rate": res["readings"] / max(res["t_sent"] - res["t0"], 1e-9),
        "batches": m.get("waternet_ingest_batch_rows_count", 0),
    }


def latency(db: BenchDb, mqtt: str, state: Path, *, rate: float, seconds: float) -> dict[str, Any]:
    db.reset()
    w = Worker(db, mqtt, state)
    n = int(rate * seconds) // 100 * 100
    try:
        res = publisher_result(start_publisher(mqtt, batch=100, readings=n, rate=rate))
        w.wait_accepted(n)
        m = w.metrics()
    finally:
        w.stop()
    with psycopg.connect(db.url) as c:
        q = c.execute(
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.99, 0.999]) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM received_at - ts)), max(extract(epoch FROM "
            "received_at - ts)) FROM readings"
        ).fetchone()
    assert q is not None
    commit = histogram(m, "waternet_ingest_commit_seconds")
    commit_max = next((le for le, cum in commit if cum >= commit[-1][1]), float("inf"))
    lat = histogram(m, "waternet_ingest_publish_to_commit_seconds")
    p50, p99, p999 = (float(x) for x in q[1])
    return {
        "rows": int(q[0]),
        "p50_tx_start": p50,
        "p99_tx_start": p99,
        "p999_tx_start": p999,
        "max_tx_start": float(q[2]),
        "commit_max_bound": commit_max,
        "p99_bound": p99 + commit_max,
        "hist_p99": hist_quantile(lat, 0.99),
        "achieved_rate": res["readings"] / max(res["t_sent"] - res["t0"], 1e-9),
    }


def soak(db: BenchDb, mqtt: str, state: Path, *, rate: float, seconds: float) -> dict[str, Any]:
    db.reset()
    w = Worker(db, mqtt, state)
    n = int(rate * seconds) // 100 * 100
    samples: list[tuple[float, float]] = []
    try:
        pub = start_publisher(mqtt, batch=100, readings=n, rate=rate)
        t0 = time.time()
        while pub.poll() is None:
            samples.append((time.time() - t0, w.rss() / 2**20))
            print(f"    soak t={samples[-1][0]:6.0f} s  rss={samples[-1][1]:7.1f} MiB", flush=True)
            for _ in range(100):
                if pub.poll() is not None:
                    break
                time.sleep(0.1)
        publisher_result(pub)
        w.wait_accepted(n)
        samples.append((time.time() - t0, w.rss() / 2**20))
    finally:
        w.stop()
    warm = [s for s in samples if s[0] >= min(60.0, seconds / 4)] or samples
    slope = (
        statistics.linear_regression([s[0] for s in warm], [s[1] for s in warm]).slope
        if len(warm) >= 2
        else 0.0
    )
    return {
        "samples": samples,
        "slope_mib_per_min": slope * 60,
        "stored": db.count(),
        "n": n,
        "growth_mib": warm[-1][1] - warm[0][1],
    }


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short phases (about 3 minutes)")
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument(
        "--mqtt",
        default="mqtt://127.0.0.1:1884",
        help="broker URL, or 'private' for a private Mosquitto (test.conf)",
    )
    ap.add_argument("--soak", type=float, default=None, help="soak seconds (600; --quick 60)")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    ap.add_argument("--publisher", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.publisher:
        publish_main(json.loads(args.publisher))
        return
    q = args.quick
    soak_s = args.soak if args.soak is not None else (60.0 if q else 600.0)
    broker = None
    mqtt = args.mqtt
    if mqtt == "private":
        from tests.support.broker import Mosquitto

        broker = Mosquitto()
        broker.start()
        mqtt = broker.url
    state = Path(tempfile.mkdtemp(prefix="wn-bench-ingest-"))
    print(
        f"waternet ingest benchmark ({'quick' if q else 'full'}), broker {mqtt}"
        f"{' (private, deploy/mosquitto/test.conf)' if broker else ''}, {os.cpu_count()} cores"
    )
    db = BenchDb(args.db)
    print(f"database {db.name} ({db.mode} storage), {SENSORS} sensors registered")
    r: dict[str, Any] = {}
    try:
        db.reset()
        r["ceiling"] = ceiling(db, 5 if q else 15, full_writer=False)
        print(f"  ceiling (COPY + ON CONFLICT): {r['ceiling']:,.0f} rows/s", flush=True)
        db.reset()
        r["ceiling_full"] = ceiling(db, 5 if q else 15, full_writer=True)
        print(f"  writer SQL (+ latest, rollup keys): {r['ceiling_full']:,.0f} rows/s", flush=True)
        db.reset()
        r["naive"] = naive_bridge(db, mqtt, 5_000 if q else 20_000)
        print(f"  naive bridge: {r['naive']:,.0f} msg/s", flush=True)
        r["batch"] = throughput(db, mqtt, state, batch=100, readings=600_000 if q else 3_000_000)
        print(f"  waternet batches of 100: {r['batch']}", flush=True)
        r["refresh"] = refresh_rate(db)
        print(f"  rollup refresh of those readings: {r['refresh']}", flush=True)
        r["single"] = throughput(db, mqtt, state, batch=1, readings=100_000 if q else 400_000)
        print(f"  waternet single readings: {r['single']}", flush=True)
        r["latency"] = latency(db, mqtt, state, rate=20_000, seconds=15 if q else 60)
        print(f"  latency at 20,000 readings/s: {r['latency']}", flush=True)
        r["soak"] = soak(db, mqtt, state, rate=20_000, seconds=soak_s)
    finally:
        if not args.keep:
            db.drop()
        if broker is not None:
            broker.close()
    report(r, soak_s)


def report(r: dict[str, Any], soak_s: float) -> None:
    b, s, lat, sk = r["batch"], r["single"], r["latency"], r["soak"]
    exact = (
        b["stored"] == b["readings"] and s["stored"] == s["readings"] and sk["stored"] == sk["n"]
    )
    print()
    print(f"{'measure':<52}{'value':>14}  {'ratio':>16}  target")
    rows = [
        ("database ceiling, COPY + ON CONFLICT (rows/s)", r["ceiling"], "1.00 x ceiling", ""),
        (
            "  writer's whole transaction (rows/s)",
            r["ceiling_full"],
            f"{r['ceiling_full'] / r['ceiling']:.2f} x ceiling",
            "",
        ),
        ("naive bridge, INSERT per message (msg/s)", r["naive"], "1.0 x naive", ""),
        (
            "waternet, batches of 100 (readings/s)",
            b["rate"],
            f"{b['rate'] / r['ceiling']:.2f} x ceiling",
            f">= 60,000 and >= 0.40 x ceiling: "
            f"{verdict(b['rate'] >= 60_000 and b['rate'] >= 0.4 * r['ceiling'])}",
        ),
        (
            "waternet, 1 reading/message QoS 1 (msg/s)",
            s["rate"],
            f"{s['rate'] / r['naive']:.1f} x naive",
            f">= 10,000 and >= 20 x naive: "
            f"{verdict(s['rate'] >= 10_000 and s['rate'] >= 20 * r['naive'])}",
        ),
        (
            "rollup refresh of the batch run's readings (rows/s)",
            r["refresh"]["rate"],
            f"{r['refresh']['rate'] / b['rate']:.2f} x ingest",
            f">= ingest rate: {verdict(r['refresh']['rate'] >= b['rate'])}",
        ),
        ("p99 publish->tx start at 20k/s (s)", lat["p99_tx_start"], "", ""),
        (
            "p99 publish->commit, upper bound (s)",
            lat["p99_bound"],
            "",
            f"< 1 s: {verdict(lat['p99_bound'] < 1.0)}",
        ),
        (
            f"worker RSS slope over {soak_s:.0f} s (MiB/min)",
            sk["slope_mib_per_min"],
            "",
            f"flat (< 1 MiB/min): {verdict(abs(sk['slope_mib_per_min']) < 1.0)}",
        ),
    ]
    for name, value, ratio, target in rows:
        print(f"{name:<52}{value:>14,.3f}  {ratio:>16}  {target}")
    print(f"exactly once (stored == published in every worker run): {verdict(exact)}")
    print(
        f"\nlatency method: readings stamped with their publish time (ts, ms); received_at = "
        f"now() = start of the worker's transaction; p50 {lat['p50_tx_start']:.3f} s, p99 "
        f"{lat['p99_tx_start']:.3f} s, p99.9 {lat['p999_tx_start']:.3f} s, max "
        f"{lat['max_tx_start']:.3f} s over {lat['rows']:,} readings; + longest commit <= "
        f"{lat['commit_max_bound']} s (worker histogram bucket) = upper bound "
        f"{lat['p99_bound']:.3f} s; worker's own histogram p99 bucket <= {lat['hist_p99']} s; "
        f"publisher achieved {lat['achieved_rate']:,.0f} readings/s"
    )
    print(
        f"throughput method: readings published / (first publish -> worker's commit counter "
        f"reaches the total); publisher alone: batches {b['publish_rate']:,.0f} readings/s, "
        f"single {s['publish_rate']:,.0f} msg/s"
    )
    print("soak RSS series (s, MiB): " + ", ".join(f"({t:.0f}, {m:.1f})" for t, m in sk["samples"]))
    print(f"soak growth after warm-up: {sk['growth_mib']:+.1f} MiB")


if __name__ == "__main__":
    main()
