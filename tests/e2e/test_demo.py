"""`waternet demo` on embedded defaults: starts, prints the page URL, /readyz answers 200."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = os.path.join(os.path.dirname(sys.executable), "waternet")


def test_demo_starts_on_embedded_services(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERNET_")}
    env["WATERNET_STATE_DIR"] = str(tmp_path / "state")
    env["WATERNET_LOG_JSON"] = "false"
    proc = subprocess.Popen(
        [BIN, "demo", "--port", "0", "--duration", "240", "--size", "small"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    url = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"dispatch map: (http://\S+)", line)
            if m:
                url = m.group(1)
        assert url, "".join(lines)
        text = "".join(lines)
        assert "started embedded PostgreSQL" in text
        assert "started in-process MQTT broker" in text
        assert "log in as 'dispatcher'" in text
        assert "demo city (small) is network version" in text
        ready = None
        for _ in range(60):
            try:
                ready = httpx.get(url + "readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        password = (tmp_path / "state" / "demo-password").read_text().strip()
        token = httpx.post(
            url + "api/v1/auth/token", data={"username": "dispatcher", "password": password}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        versions = httpx.get(url + "api/v1/network/versions", headers=auth).json()
        assert [v["name"] for v in versions if v["active"]] == ["demo-city-small"]
        page = httpx.get(url)
        assert page.status_code == 200 and "leaflet" in page.text.lower()
        # the simulated fleet publishes live: pressure readings reach the latest-value table
        latest: list[dict[str, object]] = []
        for _ in range(90):
            body = httpx.get(url + "api/v1/latest?kind=PT", headers=auth).json()
            latest = [s for s in body["sensors"] if s.get("value") is not None]
            if latest:
                break
            time.sleep(1)
        assert latest, "no live readings from the simulated fleet"
    finally:
        proc.send_signal(2)  # Ctrl-C
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert "demo stopped" in out
