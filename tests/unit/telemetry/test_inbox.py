"""The worker's inbox: batches cut by estimated readings, and a bound that blocks the reader."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from waternet.ingest.mqtt.inbox import Inbox
from waternet.ingest.pipeline import Incoming

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def single(i: int) -> Incoming:
    topic = f"waternet/v1/telemetry/PT-D01-{i:06d}"
    return Incoming("mqtt", topic, b'{"ts":1,"v":1}', NOW, (1, i, 1))


def batch(n: int) -> Incoming:
    body = json.dumps({"readings": [{"s": "PT-D01-000001", "ts": k, "v": 1} for k in range(n)]})
    return Incoming("mqtt", "waternet/v1/batch/GW-1", body.encode(), NOW, (1, 0, 1))


def test_batches_are_cut_by_estimated_readings_in_arrival_order() -> None:
    inbox = Inbox(100)
    stop = threading.Event()
    inbox.put_many([batch(100), batch(100), single(1), batch(100)], stop)
    first = inbox.get_batch(150, 0.01)
    assert [m.topic for m in first] == ["waternet/v1/batch/GW-1"] * 2  # 200 readings >= 150
    rest = inbox.get_batch(150, 0.01)
    assert [m.topic.split("/")[2] for m in rest] == ["telemetry", "batch"]
    assert inbox.empty() and inbox.get_batch(150, 0.01, first_wait=0.01) == []


def test_a_full_inbox_blocks_the_reader_until_the_writer_drains() -> None:
    inbox = Inbox(10)
    stop = threading.Event()
    inbox.put_many([single(i) for i in range(10)], stop)
    done = threading.Event()

    def reader() -> None:
        inbox.put_many([single(99)], stop)
        done.set()

    t = threading.Thread(target=reader)
    t.start()
    assert not done.wait(0.3)  # full: the reading thread waits (the broker keeps the rest)
    got = inbox.get_batch(5, 0.01)
    assert len(got) == 5
    assert done.wait(5)
    t.join()
    assert inbox.qsize() == 6
    assert [m.token[1] for m in inbox.get_batch(100, 0.01)] == [5, 6, 7, 8, 9, 99]
