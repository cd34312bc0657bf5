"""The dispatch map in headless Chromium (Debian's ``chromium``, driven by Playwright).

A real uvicorn server on a free port serves the app on a database holding the small demo
city; the test logs in as a dispatcher, sees the pipe layer drawn (loaded by bbox and zoom),
clicks a pipe and sees the valves to close and the customers without water, listed and drawn.
Screenshots: /tmp/waternet-map.png, /tmp/waternet-map-plan.png.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.isolation_api.demo_db import add_user, build_app, demo_city_database
from tests.support.services import PgServer, unavailable

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VALVES_JS = "els => els.map(e => e.dataset.valve)"
USER, PASSWORD = "dispatcher-1", "dispatch-" + "pw" * 4

# Screen positions (page pixels) of the middle of the longest drawn pipes, keeping only points
# where the topmost element is that pipe's own path (not a valve or another feature).
PIPE_TARGETS_JS = """
() => {
  const map = window.waternet.map;
  const rect = map.getContainer().getBoundingClientRect();
  const out = [];
  const cands = [];
  window.waternet.layers.groups.pipes.eachLayer((l) => {
    const pts = l.getLatLngs().flat(2).map((ll) => map.latLngToContainerPoint(ll));
    let len = 0;
    for (let i = 1; i < pts.length; i++) len += pts[i].distanceTo(pts[i - 1]);
    cands.push({ l, pts, len });
  });
  cands.sort((a, b) => b.len - a.len);
  for (const { l, pts, len } of cands) {
    let half = len / 2;
    for (let i = 1; i < pts.length; i++) {
      const d = pts[i].distanceTo(pts[i - 1]);
      if (half <= d) {
        const t = d ? half / d : 0;
        const x = rect.left + pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t;
        const y = rect.top + pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t;
        const el = document.elementFromPoint(x, y);
        if (el && el === l.getElement()) out.push({ x, y, id: String(l.feature.properties.id) });
        break;
      }
      half -= d;
    }
  }
  return out;
}
"""


def _chromium() -> str:
    path = os.environ.get("WATERNET_CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        unavailable("chromium", f"no chromium binary at {path!r} (apt-get install chromium)")
    assert path
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(page URL, database URL) of a uvicorn server in a thread."""
    import uvicorn

    with demo_city_database(pg_server) as url:
        # in a thread: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(
                asyncio.run, add_user(url, name=USER, password=PASSWORD, role="dispatcher")
            ).result()
        app = build_app(url, tmp_path_factory.mktemp("state"))
        port = _free_port()
        srv = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
        )
        thread = threading.Thread(target=srv.run, name="uvicorn-map-test", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not srv.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.started, "uvicorn did not start"
        try:
            yield f"http://127.0.0.1:{port}/", url
        finally:
            srv.should_exit = True
            thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_map_shows_pipes_and_a_clicked_pipe_plan(browser: Any, server: tuple[str, str]) -> None:
    from waternet.isolation.service import isolation_engine
    from waternet.network import service

    base, db_url = server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    layer_requests: list[str] = []
    page.on(
        "request",
        lambda r: layer_requests.append(r.url) if "/api/v1/network/layers/" in r.url else None,
    )

    page.goto(base)
    # public shell: no data before login
    assert page.locator("#login").is_visible()
    assert page.locator("path.wn-pipe").count() == 0
    page.fill("#login-user", USER)
    page.fill("#login-password", "wrong-password")
    page.click("#login-submit")
    page.wait_for_function("document.querySelector('#login-error').textContent.length > 0")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#login", state="hidden")
    assert page.inner_text("#username") == USER

    # pipe layer drawn (SVG paths), fetched by bbox and zoom
    page.wait_for_function("document.querySelectorAll('path.wn-pipe').length > 20", timeout=20000)
    pipes = [u for u in layer_requests if "/layers/pipes?" in u]
    assert pipes and "bbox=" in pipes[-1] and "zoom=" in pipes[-1]
    assert page.locator("#netinfo").inner_text().startswith("demo-small")
    page.screenshot(path="/tmp/waternet-map.png")

    # every move/zoom reloads the layers for the new view
    before = len(layer_requests)
    page.click(".leaflet-control-zoom-in")
    page.wait_for_timeout(600)
    assert len(layer_requests) > before
    page.click(".leaflet-control-zoom-out")
    page.wait_for_timeout(600)
    page.wait_for_function("document.querySelectorAll('path.wn-pipe').length > 20")

    # click a pipe whose isolation takes customers out of supply
    loaded = service.load_active(db_url)
    targets = page.evaluate(PIPE_TARGETS_JS)
    target = None
    for t in targets:
        plan = isolation_engine(loaded).plan(pipe=t["id"])
        if plan.valves_to_close and plan.consequences and plan.consequences.customers:
            target, want = t, plan
            break
    assert target is not None, targets
    assert want.consequences is not None
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector("#plan-valves li.step", timeout=20000)

    # listed: valves in operation order, customers (critical first)
    listed = page.eval_on_selector_all("#plan-valves li.step", VALVES_JS)
    assert listed == want.valves_to_close
    assert page.inner_text("#kpi-customers") == f"{len(want.consequences.customers):,}"
    shown = page.locator("#plan-critical li, #plan-customers li")
    assert shown.count() >= min(len(want.consequences.customers), 200) > 0
    first = want.consequences.customers[0]
    assert first.account in page.inner_text("#tab-plan")
    # drawn: numbered valves, the isolated pipe in red, the affected customers
    assert page.locator(".wn-valve-close").count() == len(want.valves_to_close)
    assert page.locator("path.wn-plan-isolated").count() == len(want.isolated_links)
    assert page.locator("path.wn-plan-customer").count() == len(want.consequences.customers)
    page.click("button[data-action=zoom-plan]")
    page.wait_for_timeout(800)
    page.screenshot(path="/tmp/waternet-map-plan.png")

    # a crew reports the first valve stuck: the plan grows past it
    stuck = want.valves_to_close[0]
    page.click(f"button[data-action=stuck][data-valve='{stuck}']")
    page.wait_for_function(
        f"() => !document.querySelector(\"#plan-valves li[data-valve='{stuck}']\")"
        " && document.querySelector('#tab-plan').textContent.includes('reported stuck')",
        timeout=20000,
    )
    regrown = isolation_engine(loaded).plan(pipe=target["id"], stuck=[stuck])
    listed = page.eval_on_selector_all("#plan-valves li.step", VALVES_JS)
    assert listed == regrown.valves_to_close
    assert errors == []
