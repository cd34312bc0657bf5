"""GET /api/v1/latest gives each sensor's unit and WGS84 position (lon, lat), as registered
through the sensor registry, and the bbox filter finds registered sensors by that position."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import psycopg

from tests.conftest import Api
from tests.integration.timeseries.helpers import write_batch


def test_latest_has_unit_and_position_of_registered_sensors(api: Api) -> None:
    c = cast(Any, api.client)
    sensors = [
        {"code": "PT-D1-000001", "dma": "D1", "lon": 121.4012345, "lat": 31.2054321},
        {"code": "FT-D1-000001", "dma": "D1", "lon": 121.45, "lat": 31.25},
        {"code": "PT-D2-000001", "dma": "D2"},  # no position registered
    ]
    r = c.post("/api/v1/sensors", json=sensors, headers=api.headers("service"))
    assert r.status_code == 200, r.text
    ts = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    with psycopg.connect(api.db_url) as conn:
        ids = dict(conn.execute("SELECT code, id FROM sensors").fetchall())
        write_batch(conn, [(ids[s["code"]], ts, 1.5, 0) for s in sensors])
        conn.execute(
            "INSERT INTO latest_readings (sensor_id, ts, value) "
            "SELECT DISTINCT ON (sensor_id) sensor_id, ts, value FROM readings "
            "ORDER BY sensor_id, ts DESC"
        )
        conn.commit()
    hdr = api.headers("dispatcher")
    body = c.get("/api/v1/latest", headers=hdr).json()
    got = {s["code"]: s for s in body["sensors"]}
    assert set(got) == {s["code"] for s in sensors}
    pt, ft, bare = got["PT-D1-000001"], got["FT-D1-000001"], got["PT-D2-000001"]
    assert (pt["lon"], pt["lat"]) == (121.4012345, 31.2054321)
    assert (ft["lon"], ft["lat"]) == (121.45, 31.25)
    assert bare["lon"] is None and bare["lat"] is None
    assert pt["unit"] and pt["unit"] == bare["unit"]
    assert ft["unit"] and ft["unit"] != pt["unit"]
    units = {x["code"]: x["unit"] for x in c.get("/api/v1/sensors", headers=hdr).json()}
    assert all(got[k]["unit"] == u for k, u in units.items())
    # the fields the latest values had before are all still there
    assert {"code", "kind", "dma", "ts", "value", "quality"} <= set(pt)
    boxed = c.get("/api/v1/latest", params={"bbox": "121.3,31.1,121.42,31.22"}, headers=hdr).json()
    assert [s["code"] for s in boxed["sensors"]] == ["PT-D1-000001"]
