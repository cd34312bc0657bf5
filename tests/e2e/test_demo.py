"""`waternet demo` on embedded defaults, started once for this module: it prints the page URL,
the login and its database URL (and keeps access logs off the terminal, in its log file);
/readyz answers 200; DMA balances answer; `waternet users add` finds its database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = os.path.join(os.path.dirname(sys.executable), "waternet")
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|DELETE) /\S* HTTP/1\.[01]" \d{3}')


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    env: dict[str, str]
    state: Path
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def token(self, user: str, password: str) -> dict[str, str]:
        r = httpx.post(
            self.url + "api/v1/auth/token", data={"username": user, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def dispatcher(self) -> dict[str, str]:
        return self.token("dispatcher", (self.state / "demo-password").read_text().strip())


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    # not under pytest's tmp dir: pytest makes that 0700 for root, and the embedded server runs
    # as its own system user when the tests run as root
    tmp = Path(tempfile.mkdtemp(prefix="waternet-demo-"))
    tmp.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERNET_")}
    env["WATERNET_STATE_DIR"] = str(tmp / "state")
    env["WATERNET_LOG_JSON"] = "false"
    proc = subprocess.Popen(
        [BIN, "demo", "--port", "0", "--duration", "600", "--size", "small"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    d = Demo(proc, env, tmp / "state")
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not d.url:
            line = proc.stdout.readline()
            if not line:
                break
            d.lines.append(line)
            m = re.search(r"dispatch map: (http://\S+)", line)
            if m:
                d.url = m.group(1)
        assert d.url, "".join(d.lines)
        yield d
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def test_demo_starts_on_embedded_services(demo: Demo) -> None:
    text = "".join(demo.lines)
    assert "started embedded PostgreSQL" in text
    assert "started in-process MQTT broker" in text
    assert "log in as 'dispatcher'" in text
    assert "demo city (small) is network version" in text
    ready = None
    for _ in range(60):
        try:
            ready = httpx.get(demo.url + "readyz", timeout=5)
            if ready.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    assert ready is not None and ready.status_code == 200, ready and ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    auth = demo.dispatcher()
    versions = httpx.get(demo.url + "api/v1/network/versions", headers=auth).json()
    assert [v["name"] for v in versions if v["active"]] == ["demo-city-small"]
    page = httpx.get(demo.url)
    assert page.status_code == 200 and "leaflet" in page.text.lower()
    # the simulated fleet publishes live: pressure readings reach the latest-value table
    latest: list[dict[str, object]] = []
    for _ in range(90):
        body = httpx.get(demo.url + "api/v1/latest?kind=PT", headers=auth).json()
        latest = [s for s in body["sensors"] if s.get("value") is not None]
        if latest:
            break
        time.sleep(1)
    assert latest, "no live readings from the simulated fleet"


def test_terminal_shows_short_lines_and_the_log_file_the_access_log(demo: Demo) -> None:
    for _ in range(3):
        assert httpx.get(demo.url + "healthz").status_code == 200
    text = "".join(demo.lines)
    assert demo.url in text and "log in as 'dispatcher' with password" in text
    assert re.search(r"database URL: postgresql://\S+", text), text
    log_file = demo.state / "logs" / "demo.log"
    assert f"logs: {log_file}" in text
    for _ in range(30):
        logged = log_file.read_text() if log_file.exists() else ""
        if '"GET /healthz HTTP/1.1" 200' in logged:
            break
        time.sleep(0.5)
    assert '"GET /healthz HTTP/1.1" 200' in logged, logged[-2000:]
    assert not ACCESS_LINE.search(text), text


def test_users_add_finds_the_demo_database(demo: Demo) -> None:
    env = {k: v for k, v in demo.env.items() if k != "WATERNET_DATABASE_URL"}
    env["WATERNET_NEW_PASSWORD"] = "analyst-secret-1"
    r = subprocess.run(
        [BIN, "users", "add", "ana", "--role", "analyst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "user ana (analyst) saved" in r.stdout
    assert "demo-database-url" in r.stderr  # says where the URL came from
    assert demo.token("ana", "analyst-secret-1")


def _balance(demo: Demo, auth: dict[str, str], dma: str) -> httpx.Response:
    now = datetime.now(UTC)
    return httpx.get(
        demo.url + f"api/v1/dmas/{dma}/balance",
        headers=auth,
        params={
            "from": (now - timedelta(hours=2)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
            "step": "hour",
        },
    )


def test_dma_balance_answers_with_real_numbers(demo: Demo) -> None:
    auth = demo.dispatcher()
    dmas = httpx.get(
        demo.url + "api/v1/network/layers/dmas",
        headers=auth,
        params={"bbox": "-180,-90,180,90", "zoom": 12},
    ).json()["features"]
    codes = sorted(f["id"] for f in dmas)
    assert codes
    for code in codes:
        r = _balance(demo, auth, code)
        assert r.status_code == 200, (code, r.text)
        assert r.json()["boundary_meters"]
    # the fleet publishes the boundary flows: once rolled up, a bucket has an inflow
    inflow: list[Any] = []
    for _ in range(240):
        buckets = _balance(demo, auth, codes[0]).json()["buckets"]
        inflow = [b["inflow_m3"] for b in buckets if b["inflow_m3"] is not None]
        if inflow:
            break
        time.sleep(1)
    assert inflow, "no boundary flow rolled up"
    assert all(isinstance(v, float) for v in inflow)


def test_meter_readings_are_stamped_when_read(demo: Demo) -> None:
    """The fleet replays from the demo's start at real speed, so a meter register read now is
    stored at about now (CJ/T 188 meter clocks are local time: not 8 hours old)."""
    auth = demo.dispatcher()
    meters: list[dict[str, Any]] = []
    for _ in range(120):
        body = httpx.get(demo.url + "api/v1/latest?kind=MT", headers=auth).json()
        meters = [s for s in body["sensors"] if s.get("ts")]
        if meters:
            break
        time.sleep(1)
    assert meters, "no meter readings"
    now = datetime.now(UTC)
    for s in meters:
        age = now - datetime.fromisoformat(s["ts"])
        assert timedelta(minutes=-2) < age < timedelta(minutes=15), (s, now)


def test_demo_stops_cleanly(demo: Demo) -> None:
    url_file = demo.state / "demo-database-url"
    assert url_file.exists()
    demo.proc.send_signal(2)  # Ctrl-C
    out, _ = demo.proc.communicate(timeout=60)
    assert demo.proc.returncode == 0, "".join(demo.lines) + out
    assert "demo stopped" in out
    assert not url_file.exists()
    assert not ACCESS_LINE.search(out), out
