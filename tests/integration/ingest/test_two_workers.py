"""Two ingest workers in one MQTT 5 share group split one stream: every reading stored exactly
once, both took a share, none missed (docs/scaling.md)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.support.broker import Mosquitto
from tests.support.ingest import Publisher, counts, make_worker, register, running, wait_until

CODES = [f"PT-S01-{i:06d}" for i in range(100)]
MESSAGES = 3000  # single readings, plus 20 gateway batches of 50


def test_two_workers_share_one_stream(db_url: str, tmp_path: Path) -> None:
    # A private Mosquitto with deploy/mosquitto/test.conf: MQTT 5 shared subscriptions (the
    # embedded amqtt broker has none), and no other test's traffic in the share group's topics.
    broker = Mosquitto()
    broker.start()
    try:
        register(db_url, CODES)
        group = f"g{uuid.uuid4().hex[:8]}"
        workers = [
            make_worker(
                db_url,
                broker.url,
                tmp_path / name,
                client_id=f"{name}-{group}",
                group=group,
                batch_size=200,
            )
            for name in ("w1", "w2")
        ]
        t0 = int(datetime.now(UTC).timestamp() * 1000)
        sent: set[tuple[str, int]] = set()
        with running(workers[0]), running(workers[1]):
            assert all(w.share_group == group for w in workers)  # MQTT 5 really in use
            pub = Publisher(broker.url)
            for k in range(MESSAGES):
                code, ts = CODES[k % len(CODES)], t0 - k
                pub.publish(f"waternet/v1/telemetry/{code}", json.dumps({"ts": ts, "v": 30.0}))
                sent.add((code, ts))
            for b in range(20):
                readings = []
                for j in range(50):
                    code, ts = CODES[j], t0 - 100_000 - b * 50 - j
                    readings.append({"s": code, "ts": ts, "v": 31.0})
                    sent.add((code, ts))
                pub.publish(f"waternet/v1/batch/gw-{b}", json.dumps({"readings": readings}))
            pub.close()
            assert wait_until(lambda: counts(db_url)["stored"] >= len(sent), 60), counts(db_url)
            assert wait_until(lambda: sum(w.stats.messages for w in workers) >= MESSAGES + 20, 30)
        shares = [w.stats.messages for w in workers]
        assert all(n > 0 for n in shares), f"a worker took no share: {shares}"
        assert sum(shares) == MESSAGES + 20  # each message delivered to exactly one worker
        assert sum(w.stats.duplicates for w in workers) == 0
        assert sum(w.stats.stored for w in workers) == len(sent)
        with psycopg.connect(db_url) as conn:
            rows = conn.execute(
                "SELECT s.code, (extract(epoch FROM r.ts) * 1000)::bigint FROM readings r "
                "JOIN sensors s ON s.id = r.sensor_id"
            ).fetchall()
        stored = [(c, int(t)) for c, t in rows]
        assert len(stored) == len(set(stored))  # none twice (the primary key says so too)
        assert set(stored) == sent  # none missed, nothing else
        assert counts(db_url)["quarantine"] == {}
    finally:
        broker.close()
