"""Every reading published over MQTT is stored or quarantined with a reason, exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.ingest import (
    Publisher,
    counts,
    make_worker,
    register,
    running,
    total,
    wait_until,
)
from waternet.ingest.codecs import cjt188

CODES = [f"PT-T01-{i:06d}" for i in range(50)]
METERS = [f"MT-T01-{i:06d}" for i in range(5)]


def test_mixed_stream_counts_exactly(db_url: str, mqtt_url: str, tmp_path: Path) -> None:
    register(db_url, CODES + METERS)
    now = datetime.now(UTC).replace(microsecond=0)
    ms = int(now.timestamp() * 1000)
    expected_stored = 0
    expected_q: dict[str, int] = {}

    def q(reason: str, n: int = 1) -> None:
        expected_q[reason] = expected_q.get(reason, 0) + n

    worker = make_worker(db_url, mqtt_url, tmp_path)
    with running(worker):
        pub = Publisher(mqtt_url)
        # 1. single readings, ISO and epoch-ms timestamps
        for i, code in enumerate(CODES):
            pub.publish(
                f"waternet/v1/telemetry/{code}", json.dumps({"ts": ms - i * 1000, "v": 31.5})
            )
            ts = (now - timedelta(minutes=5, seconds=i)).isoformat()
            pub.publish(f"waternet/v1/telemetry/{code}", json.dumps({"ts": ts, "v": 30.0, "q": 0}))
        expected_stored += 2 * len(CODES)
        # 2. gateway batches of 100 with one bad reading each (value out of physical range)
        for b in range(10):
            readings = [
                {"s": CODES[j % 50], "ts": ms - 3_600_000 - (b * 100 + j) * 60_000, "v": 25.0}
                for j in range(99)
            ]
            readings.append({"s": CODES[0], "ts": ms - 10 * 3_600_000 - b, "v": 9999.0})
            pub.publish(f"waternet/v1/batch/gw-{b}", json.dumps({"readings": readings}))
        expected_stored += 10 * 99
        q("out_of_range", 10)
        # 3. raw CJ/T 188 read replies from meters (one register reading each)
        for i, code in enumerate(METERS):
            frame = cjt188.encode_read_reply(
                address=f"{i:014d}", volume_m3=123.45 + i, meter_time=now - timedelta(hours=1)
            )
            pub.publish(f"waternet/v1/raw/{code}", frame)
        expected_stored += len(METERS)
        # 4. faults
        pub.publish(f"waternet/v1/telemetry/{CODES[1]}", b"{not json")
        q("malformed_json")
        pub.publish("waternet/v1/telemetry/PT-T01-999999", json.dumps({"ts": ms, "v": 1.0}))
        q("unknown_sensor")
        pub.publish(f"waternet/v1/telemetry/{CODES[2]}", b'{"ts": 1, "v": NaN}')
        q("nan")
        future = (now + timedelta(days=2)).isoformat()
        pub.publish(f"waternet/v1/telemetry/{CODES[3]}", json.dumps({"ts": future, "v": 1.0}))
        q("future_timestamp")
        bad = bytearray(cjt188.encode_read_reply(address="1", volume_m3=1.0, meter_time=now))
        bad[-2] ^= 0xFF
        pub.publish(f"waternet/v1/raw/{METERS[0]}", bytes(bad))
        q("bad_checksum")
        pub.publish(f"waternet/v1/telemetry/{CODES[4]}", b"x" * 300_000)
        q("oversized")
        pub.flush()
        expected_total = expected_stored + sum(expected_q.values())
        assert wait_until(lambda: total(db_url) >= expected_total, 60), counts(db_url)
        # redelivery of the same messages changes nothing
        pub.publish(f"waternet/v1/telemetry/{CODES[0]}", json.dumps({"ts": ms, "v": 31.5}))
        pub.publish(f"waternet/v1/telemetry/{CODES[1]}", b"{not json")
        pub.close()
        assert wait_until(lambda: worker.stats.messages >= 2 * 50 + 10 + 5 + 6 + 2, 30)
    got = counts(db_url)
    assert got["stored"] == expected_stored
    assert got["quarantine"] == expected_q
    assert worker.stats.duplicates >= 1


def test_latest_value_follows_reading_time_not_arrival(
    db_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    import psycopg

    register(db_url, CODES[:1])
    ms = int(datetime.now(UTC).timestamp() * 1000)
    with running(make_worker(db_url, mqtt_url, tmp_path)):
        pub = Publisher(mqtt_url)
        pub.publish(f"waternet/v1/telemetry/{CODES[0]}", json.dumps({"ts": ms, "v": 2.0}))
        pub.flush()
        assert wait_until(lambda: counts(db_url)["stored"] == 1)
        # an older reading arriving later must not replace the latest value
        pub.publish(f"waternet/v1/telemetry/{CODES[0]}", json.dumps({"ts": ms - 60_000, "v": 1.0}))
        pub.close()
        assert wait_until(lambda: counts(db_url)["stored"] == 2)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT value FROM latest_readings").fetchone()
    assert row == (2.0,)
