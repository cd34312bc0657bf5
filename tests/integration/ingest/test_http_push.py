"""NB-IoT pushes (CTWing, OneNET) through the API: durable before 200, verified, counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api
from tests.support.ingest import counts, register
from waternet.config import reset_settings
from waternet.ingest.codecs import cjt188, wnframe
from waternet.ingest.formats import onenet, platforms

TOKEN = "onenet-token-123"
KEY = "ctwing-key-456"


@pytest.fixture
def push_api(monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str]) -> Api:
    monkeypatch.setenv("WATERNET_ONENET_TOKEN", TOKEN)
    monkeypatch.setenv("WATERNET_CTWING_KEY", KEY)
    reset_settings()
    from fastapi.testclient import TestClient

    from waternet.api.app import create_app

    client = TestClient(create_app())
    client.__enter__()
    yield Api(client, settings_env["WATERNET_DATABASE_URL"])  # type: ignore[misc]
    client.__exit__(None, None, None)


def test_ctwing_and_onenet_pushes_count_exactly(push_api: Api) -> None:
    url = push_api.db_url
    meters = {f"MT-N01-{i:06d}": f"86{i:013d}" for i in range(6)}
    register(url, list(meters), imeis=meters)
    now = datetime.now(UTC).replace(microsecond=0)
    c = push_api.client
    stored = 0
    # CTWing: one CJ/T 188 read reply per push
    for i, (_code, imei) in enumerate(list(meters.items())[:3]):
        frame = cjt188.encode_read_reply(address=f"{i:014d}", volume_m3=10 + i, meter_time=now)
        body = platforms.push_body(
            platforms.ctwing_push(imei=imei, device_id=f"dev{i}", frame=frame, ts=now)
        )
        r = c.post(f"/api/v1/ingest/ctwing?key={KEY}", content=body)  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 1
        stored += 1
    # OneNET: a day of 15-minute intervals in a WN1 frame, both SDK formats
    for i, (_code, imei) in enumerate(list(meters.items())[3:]):
        start = (now - timedelta(days=1)).replace(minute=0, second=0)
        frame = wnframe.encode(
            wnframe.WnFrame(
                device_id=imei,
                start=start,
                interval_min=15,
                registers_l=tuple(1000 + 5 * k for k in range(96)),
                battery_mv=3600,
                rsrp_dbm=-95,
                snr_db=7,
            )
        )
        push = onenet.onenet_push(
            token=TOKEN,
            imei=imei,
            dev_id=100 + i,
            frame=frame,
            ts=now,
            nonce=f"n{i}",
            new_format=bool(i % 2),
        )
        r = c.post("/api/v1/ingest/onenet", content=platforms.push_body(push))  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 96
        stored += 96
    # the platform retries a push it thinks failed: nothing is stored twice
    r = c.post("/api/v1/ingest/onenet", content=platforms.push_body(push))  # type: ignore[attr-defined]
    assert r.json() == {
        "result": "ok",
        "stored": 0,
        "duplicates": 96,
        "quarantined": 0,
        "spooled": 0,
    }
    # a tampered body is refused and kept as evidence
    bad = platforms.push_body(push).replace(b'"nonce":"n2"', b'"nonce":"zz"')
    r = c.post("/api/v1/ingest/onenet", content=bad)  # type: ignore[attr-defined]
    assert r.status_code == 401
    # an unknown meter and a malformed body are quarantined, answered 200 (durable)
    frame = cjt188.encode_read_reply(address="9", volume_m3=1.0, meter_time=now)
    body = platforms.push_body(
        platforms.ctwing_push(imei="999999999999999", device_id="x", frame=frame, ts=now)
    )
    assert c.post(f"/api/v1/ingest/ctwing?key={KEY}", content=body).json()["quarantined"] == 1  # type: ignore[attr-defined]
    assert c.post(f"/api/v1/ingest/ctwing?key={KEY}", content=b"{oops").json()["quarantined"] == 1  # type: ignore[attr-defined]
    got = counts(url)
    assert got["stored"] == stored
    assert got["quarantine"] == {"bad_signature": 1, "unknown_device": 1, "malformed_json": 1}


def test_push_authentication(push_api: Api) -> None:
    c = push_api.client
    assert c.post("/api/v1/ingest/ctwing?key=wrong", content=b"{}").status_code == 401  # type: ignore[attr-defined]
    assert c.post("/api/v1/ingest/ctwing", content=b"{}").status_code == 422  # type: ignore[attr-defined]
    sig = onenet.onenet_signature(token=TOKEN, nonce="abc", msg="hello")
    r = c.get("/api/v1/ingest/onenet", params={"msg": "hello", "nonce": "abc", "signature": sig})  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert r.text == "hello"
    r = c.get("/api/v1/ingest/onenet", params={"msg": "hello", "nonce": "abd", "signature": sig})  # type: ignore[attr-defined]
    assert r.status_code == 401


def test_sensor_registry_api(push_api: Api) -> None:
    c = push_api.client
    h = push_api.headers("service")
    r = c.post(
        "/api/v1/sensors",
        json=[{"code": "PT-D01-000001"}, {"code": "FT-D01-000002", "dma": "D01"}],
        headers=h,
    )  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json() == {"registered": 2}
    r = c.post("/api/v1/sensors", json=[{"code": "bad"}, {"code": "XX-D01-000001"}], headers=h)  # type: ignore[attr-defined]
    assert r.status_code == 422
    assert len(r.json()["details"]) == 2
    csv_text = "code,dma,imei\nMT-D02-000001,D02,860000000000001\nMT-D02-000002,D02,\n"
    r = c.post("/api/v1/sensors/csv", content=csv_text, headers={**h, "content-type": "text/csv"})  # type: ignore[attr-defined]
    assert r.json() == {"registered": 2}
    r = c.get("/api/v1/sensors?kind=MT", headers=push_api.headers("analyst"))  # type: ignore[attr-defined]
    assert [s["code"] for s in r.json()] == ["MT-D02-000001", "MT-D02-000002"]
    assert r.json()[0]["transport"] == "nbiot"
    r = c.get("/api/v1/sensors/PT-D01-000001", headers=push_api.headers("crew"))  # type: ignore[attr-defined]
    assert r.json()["unit"] == "m"
    # a crew token may read but not register
    r = c.post(
        "/api/v1/sensors", json=[{"code": "PT-D01-000003"}], headers=push_api.headers("crew")
    )  # type: ignore[attr-defined]
    assert r.status_code == 403
