"""Load mode: virtual fleets (up to 1,000,000 meters and 10,000 pressure sensors) at a rate.

No hydraulics per reading: values come from small pre-encoded tables and payloads are built
from byte templates (sensor prefix + the round's timestamp + a value), so one core produces far
more readings per second than the ingest target. Each *round* sends one reading of every
sensor, all stamped with the round's time (epoch ms, strictly increasing per sensor), either as
gateway batches of ``batch`` readings on ``waternet/v1/batch/{gateway}`` or, with ``batch=1``,
as single messages on ``waternet/v1/telemetry/{code}``. ``run_load`` paces the stream to
``rate`` readings/s on a paho-mqtt 2 client and reports the rate it achieved.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulators.fastmqtt import FastMqttPublisher
from simulators.publishers import MqttPublisher


@dataclass(frozen=True, slots=True)
class LoadConfig:
    meters: int = 1_000_000
    pressure: int = 10_000
    zones: int = 20  # zone codes L01..Lnn; sensors numbered per kind and zone
    batch: int = 100  # readings per message; 1 = single telemetry messages
    gateways: int = 100
    rate: float = 60_000.0  # target readings/s (0 = as fast as possible)
    duration_s: float = 60.0
    qos: int = 1
    max_inflight: int = 1000
    topic_prefix: str = ""
    seed: int = 0
    start_ms: int | None = None  # first round's ts (default: now)
    client: str = "fast"  # "fast" (simulators.fastmqtt) or "paho"

    def __post_init__(self) -> None:
        if self.batch < 1 or self.zones < 1 or self.gateways < 1:
            raise ValueError("batch, zones and gateways must be >= 1")
        per_zone = -(-max(self.meters, self.pressure) // self.zones)
        if per_zone > 999_999:
            raise ValueError("more than 999,999 sensors of a kind per zone: add zones")

    @property
    def sensors(self) -> int:
        return self.meters + self.pressure


def sensor_codes(config: LoadConfig) -> Iterator[tuple[str, str]]:
    """(code, kind) of every virtual sensor, pressure sensors first (for registration)."""
    for kind, prefix, n in (("pressure", "PT", config.pressure), ("meter", "MT", config.meters)):
        for i in range(n):
            yield f"{prefix}-L{i % config.zones + 1:02d}-{i // config.zones + 1:06d}", kind


def write_registry(path: str | Path, config: LoadConfig) -> int:
    """CSV ``code,kind,unit`` of the virtual sensors, for bulk registration."""
    units = {"pressure": "m", "meter": "m3"}
    n = 0
    with Path(path).open("w") as f:
        f.write("code,kind,unit\n")
        for code, kind in sensor_codes(config):
            f.write(f"{code},{kind},{units[kind]}\n")
            n += 1
    return n


def _value_table(seed: int, kind: str, size: int = 4096) -> list[bytes]:
    rng = np.random.default_rng([seed, 1 if kind == "pressure" else 2])
    if kind == "pressure":
        vals = np.round(rng.normal(45.0, 8.0, size).clip(5, 90), 2)
    else:
        vals = np.round(rng.uniform(10.0, 9000.0, size), 3)
    return [repr(float(v)).encode() for v in vals]


def iter_load(config: LoadConfig, *, rounds: int | None = None) -> Iterator[tuple[str, bytes, int]]:
    """(topic, payload, readings) forever (or ``rounds`` rounds), cheap to produce."""
    pre = config.topic_prefix
    tables = {"PT": _value_table(config.seed, "pressure"), "MT": _value_table(config.seed, "meter")}
    mask = 4095
    zones = [f"L{z + 1:02d}" for z in range(config.zones)]
    kinds = (("PT", config.pressure), ("MT", config.meters))
    last_ts = (config.start_ms or int(time.time() * 1000)) - 1
    gw = 0
    for rnd in itertools.count() if rounds is None else range(rounds):
        ts = max(int(time.time() * 1000) if config.start_ms is None else 0, last_ts + 1)
        last_ts = ts
        if config.batch == 1:
            tail = b',"q":0}'
            head = b'{"ts":' + str(ts).encode() + b',"v":'
            for prefix, n in kinds:
                table = tables[prefix]
                topic_head = f"{pre}waternet/v1/telemetry/{prefix}-"
                for i in range(n):
                    topic = f"{topic_head}{zones[i % config.zones]}-{i // config.zones + 1:06d}"
                    yield topic, head + table[(i + rnd) & mask] + tail, 1
            continue
        mid = f'","ts":{ts},"v":'.encode()
        items: list[bytes] = []
        for prefix, n in kinds:
            table = tables[prefix]
            start = f'{{"s":"{prefix}-'
            for i in range(n):
                items.append(
                    f"{start}{zones[i % config.zones]}-{i // config.zones + 1:06d}".encode()
                    + mid
                    + table[(i + rnd) & mask]
                    + b',"q":0}'
                )
                if len(items) == config.batch:
                    yield (
                        f"{pre}waternet/v1/batch/LGW-{gw % config.gateways:04d}",
                        b'{"readings":[' + b",".join(items) + b"]}",
                        len(items),
                    )
                    gw += 1
                    items = []
        if items:
            yield (
                f"{pre}waternet/v1/batch/LGW-{gw % config.gateways:04d}",
                b'{"readings":[' + b",".join(items) + b"]}",
                len(items),
            )
            gw += 1


@dataclass
class LoadReport:
    messages: int
    readings: int
    seconds: float
    readings_per_s: float
    messages_per_s: float
    target_rate: float
    acked: int | None = None
    mode: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return json.dumps(self.as_dict())


def measure_generation(config: LoadConfig, *, messages: int = 20_000) -> LoadReport:
    """How fast one core produces the stream (no broker)."""
    t0 = time.perf_counter()
    n_msg = n_read = 0
    for _topic, _payload, n in iter_load(config):
        n_msg += 1
        n_read += n
        if n_msg >= messages:
            break
    dt = time.perf_counter() - t0
    return LoadReport(n_msg, n_read, dt, n_read / dt, n_msg / dt, config.rate, mode="generate")


def run_load(config: LoadConfig, url: str, *, client_id: str = "") -> LoadReport:
    """Publish for ``duration_s`` at ``rate`` readings/s; waits for the last PUBACKs."""
    pub: FastMqttPublisher | MqttPublisher
    if config.client == "paho":
        pub = MqttPublisher(
            url, client_id=client_id, qos=config.qos, max_inflight=config.max_inflight
        )
    else:
        pub = FastMqttPublisher(
            url, client_id=client_id, qos=config.qos, max_inflight=config.max_inflight
        )
    n_msg = n_read = 0
    t0 = time.perf_counter()
    try:
        for topic, payload, n in iter_load(config):
            pub.publish(topic, payload)
            n_msg += 1
            n_read += n
            now = time.perf_counter() - t0
            if now >= config.duration_s:
                break
            if config.rate > 0:
                ahead = n_read / config.rate - now
                if ahead > 0.002:
                    time.sleep(ahead)
        pub.flush(timeout=120)
        dt = time.perf_counter() - t0
    finally:
        pub.close()
    return LoadReport(
        n_msg,
        n_read,
        dt,
        n_read / dt,
        n_msg / dt,
        config.rate,
        acked=pub.acked,
        mode=f"mqtt qos{config.qos} {config.client}",
    )
