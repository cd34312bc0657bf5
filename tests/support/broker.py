"""A private Mosquitto process with waternet's broker configuration, for restart tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.services import unavailable
from waternet.demo.embedded import free_port

REPO = Path(__file__).resolve().parents[2]


class Mosquitto:
    def __init__(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            unavailable("mosquitto binary", "not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = free_port(0)
        self.dir = Path(tempfile.mkdtemp(prefix="waternet-broker-"))
        self.dir.chmod(0o777)
        conf = (REPO / "deploy" / "mosquitto" / "test.conf").read_text()
        conf = conf.replace("@STATE@", str(self.dir)).replace(
            "listener 1884 127.0.0.1", f"listener {self.port} 127.0.0.1"
        )
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(conf)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start: " + self.log())

    def stop(self) -> None:
        """A clean broker shutdown (SIGTERM): it saves its persistence file."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text() if p.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
