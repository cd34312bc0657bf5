"""Brokers for MQTT session failure tests: a private Mosquitto with a configuration of the
test's own, and a scripted peer for what no real broker sends (truncated or illegal packets)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.support.services import unavailable
from waternet.demo.embedded import free_port
from waternet.ingest.mqtt import wire as wire


class CustomMosquitto:
    """``/usr/sbin/mosquitto`` on a free loopback port; ``conf`` is added to the listener line
    (``@DIR@`` is replaced by the broker's scratch folder)."""

    def __init__(self, conf: str, files: dict[str, str] | None = None) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            unavailable("mosquitto binary", "not installed (apt-get install mosquitto)")
        self.port = free_port(0)
        self.dir = Path(tempfile.mkdtemp(prefix="waternet-broker-"))
        self.dir.chmod(0o755)  # mosquitto drops root for its own user: it must read these
        for name, text in (files or {}).items():
            (self.dir / name).write_text(text)
            (self.dir / name).chmod(0o644)
        conf_path = self.dir / "mosquitto.conf"
        conf_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + conf.replace("@DIR@", str(self.dir))
            + f"\nlog_dest file {self.dir}/mosquitto.log\nlog_type all\n"
        )
        (self.dir / "mosquitto.log").touch()
        (self.dir / "mosquitto.log").chmod(0o666)
        self.proc = subprocess.Popen([binary, "-c", str(conf_path)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("mosquitto did not start: " + self.log()) from None
                time.sleep(0.05)

    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text() if p.exists() else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class ScriptedPeer:
    """A TCP server that answers each connection's CONNECT with the next script's bytes, then
    records what the client sends until it closes. Not a broker: a fault injector."""

    def __init__(self, scripts: list[bytes]) -> None:
        self.scripts = scripts
        self.received: list[bytes] = []  # what each connection sent after its CONNECT
        self.connects: list[bytes] = []
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for script in self.scripts:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            with conn:
                decoder = wire.Decoder(v5=True)
                got = b""
                while not got:  # the CONNECT
                    data = conn.recv(65536)
                    if not data:
                        break
                    _, other = decoder.feed(data)
                    if other:
                        got = data
                self.connects.append(got)
                conn.sendall(script)
                rest = bytearray()
                conn.settimeout(10)
                try:
                    while data := conn.recv(65536):
                        rest += data
                except OSError:
                    pass
                self.received.append(bytes(rest))

    def close(self) -> None:
        self._srv.close()
