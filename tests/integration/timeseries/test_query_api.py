"""The query API against SQL on raw readings and NumPy on the input: DMA balance (hourly and
daily), night flow, meter consumption with rollover, replacement and a gap, latest values,
series with automatic level, CSV export, data quality."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from tests.conftest import Api
from tests.integration.timeseries.helpers import add_sensor, day_start_utc, write_batch
from waternet.timeseries import rollups

TZ = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)

INFLOW_SQL = """
SELECT bk, 3.6 * sum(d * a) * {hours} AS m3 FROM (
    SELECT bm.direction AS d, {bucket} AS bk, avg(r.value) AS a
      FROM readings r JOIN dma_boundary_meters bm ON bm.sensor_id = r.sensor_id
     WHERE bm.dma = 'D1' GROUP BY r.sensor_id, bm.direction, bk) x
 GROUP BY bk ORDER BY bk
"""
CONSUMPTION_SQL = """
WITH r AS (
    SELECT r.sensor_id, r.ts, r.value, lag(r.value) OVER w AS pv, lag(r.ts) OVER w AS pts
      FROM readings r JOIN sensors s ON s.id = r.sensor_id
     WHERE s.kind = 'MT' AND s.dma = 'D1' {exclude}
    WINDOW w AS (PARTITION BY r.sensor_id ORDER BY r.ts)
), d AS (
    SELECT r.ts, CASE
        WHEN m.id IS NOT NULL THEN (m.old_final_value - r.pv) + (r.value - m.new_initial_value)
        WHEN r.value < r.pv THEN r.value - r.pv + (s.meta->>'register_capacity')::float8
        ELSE r.value - r.pv END AS vol
      FROM r JOIN sensors s ON s.id = r.sensor_id
      LEFT JOIN meter_replacements m ON m.sensor_id = r.sensor_id AND m.replaced_at > r.pts
           AND m.replaced_at <= r.ts
     WHERE r.pv IS NOT NULL
)
SELECT {bucket} AS b, sum(vol) FROM d GROUP BY 1 ORDER BY 1
"""
HOUR_OF_END = "date_bin('1 hour', ts - interval '1 microsecond', TIMESTAMPTZ '2000-01-01Z')"
DAY_OF_END = (
    "(date_trunc('day', (ts - interval '1 microsecond') AT TIME ZONE 'Asia/Shanghai') "
    "AT TIME ZONE 'Asia/Shanghai')"
)


def seed(url: str) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    day0 = day_start_utc(3, TZ)
    with psycopg.connect(url) as conn:
        f_in = add_sensor(conn, "FT-D1-000001", "FT", dma="D1", lon=121.40, lat=31.20)
        f_out = add_sensor(conn, "FT-D1-000002", "FT", dma="D1", lon=121.45, lat=31.25)
        p_stuck = add_sensor(conn, "PT-D1-000001", "PT", dma="D1", lon=121.60, lat=31.30)
        m_a = add_sensor(conn, "MT-D1-000001", "MT", dma="D1", meta='{"customer": "C1"}')
        m_b = add_sensor(
            conn,
            "MT-D1-000002",
            "MT",
            dma="D1",
            meta='{"customer": "C1", "register_capacity": 1000}',
        )
        m_c = add_sensor(conn, "MT-D1-000003", "MT", dma="D1", meta='{"customer": "C2"}')
        add_sensor(conn, "MT-D2-000001", "MT", dma="D2")
        conn.execute(
            "INSERT INTO dma_boundary_meters VALUES ('D1', %s, 1), ('D1', %s, -1)", (f_in, f_out)
        )
        conn.commit()
        rows = []
        minutes = 2 * 24 * 60
        for sid, base in ((f_in, 30.0), (f_out, 5.0)):
            flow = base + 10 * rng.random(minutes)
            rows += [(sid, day0 + timedelta(minutes=i), float(flow[i]), 0) for i in range(minutes)]
        rows += [(p_stuck, day0 + timedelta(minutes=i), 31.5, 0) for i in range(0, minutes, 5)]
        hours = np.arange(49)
        inc = {m: rng.random(48) * 0.4 for m in (m_a, m_b, m_c)}
        reg_a = 100 + np.concatenate([[0], np.cumsum(inc[m_a])])
        reg_b = np.mod(999.0 + np.concatenate([[0], np.cumsum(inc[m_b])]), 1000.0)
        reg_c = 5000 + np.concatenate([[0], np.cumsum(inc[m_c])])
        # meter C replaced at 30.5 h
        tail = inc[m_c][30] / 2  # the old meter ran this much after its last reading
        old_final = reg_c[30] + tail
        reg_c[31:] = reg_c[31:] - old_final  # the new meter starts at 0
        conn.execute(
            "INSERT INTO meter_replacements (sensor_id, replaced_at, old_final_value) "
            "VALUES (%s, %s, %s)",
            (m_c, day0 + 30.5 * H, float(old_final)),
        )
        conn.commit()
        gap = {5, 6, 7, 8}  # meter A: no readings at 05:00-08:00 on day 0
        for sid, reg in ((m_a, reg_a), (m_b, reg_b), (m_c, reg_c)):
            rows += [
                (sid, day0 + int(h) * H, float(reg[h]), 0)
                for h in hours
                if not (sid == m_a and h in gap)
            ]
        write_batch(conn, rows)
        conn.execute(
            "INSERT INTO latest_readings (sensor_id, ts, value) "
            "SELECT DISTINCT ON (sensor_id) sensor_id, ts, value FROM readings "
            "ORDER BY sensor_id, ts DESC"
        )
        conn.commit()
        rollups.refresh_all(conn)
    return {"day0": day0, "inc": inc, "m_a": m_a, "m_c": m_c, "reg_c": reg_c}


def sql_series(url: str, sql: str) -> dict[datetime, float]:
    with psycopg.connect(url) as conn:
        return {r[0].astimezone(UTC): float(r[1]) for r in conn.execute(sql).fetchall()}


def q(t: datetime) -> str:
    return t.astimezone(TZ).isoformat()


def test_balance_consumption_night_flow_against_raw(api: Api) -> None:
    s = seed(api.db_url)
    day0, c = s["day0"], cast(Any, api.client)
    hdr = api.headers("analyst")
    end = day0 + 48 * H

    r = c.get(
        "/api/v1/dmas/D1/balance",
        params={"from": q(day0), "to": q(end), "step": "hour"},
        headers=hdr,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customer_meters"] == 3 and len(body["buckets"]) == 48
    assert body["buckets"][0]["from"].endswith("+08:00")
    inflow = sql_series(
        api.db_url,
        INFLOW_SQL.format(bucket="date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01Z')", hours=1),
    )
    # SQL on raw without meter A (its gap is spread), NumPy on the input for meter A
    cons = sql_series(
        api.db_url, CONSUMPTION_SQL.format(exclude=f"AND s.id <> {s['m_a']}", bucket=HOUR_OF_END)
    )
    inc_a = s["inc"][s["m_a"]].copy()
    inc_a[4:9] = inc_a[4:9].sum() / 5  # readings at 04:00 and 09:00: spread over 5 hours
    for k, b in enumerate(body["buckets"]):
        t0 = datetime.fromisoformat(b["from"]).astimezone(UTC)
        assert b["inflow_m3"] == pytest.approx(inflow[t0], rel=1e-9)
        assert b["consumption_m3"] == pytest.approx(cons[t0] + inc_a[k], abs=1e-9)
        assert b["loss_m3"] == pytest.approx(inflow[t0] - b["consumption_m3"], abs=1e-9)
        assert b["consumption_estimated"] == (4 <= k <= 8)

    r = c.get(
        "/api/v1/dmas/D1/balance",
        params={"from": q(day0), "to": q(end), "step": "day"},
        headers=hdr,
    )
    assert r.status_code == 200, r.text
    days = r.json()["buckets"]
    assert len(days) == 2
    inflow_d = sql_series(
        api.db_url,
        INFLOW_SQL.format(
            bucket=DAY_OF_END.replace("ts - interval '1 microsecond'", "ts"), hours=24
        ),
    )
    cons_d = sql_series(api.db_url, CONSUMPTION_SQL.format(exclude="", bucket=DAY_OF_END))
    for b in days:
        t0 = datetime.fromisoformat(b["from"]).astimezone(UTC)
        assert b["inflow_m3"] == pytest.approx(inflow_d[t0], rel=1e-9)
        assert b["consumption_m3"] == pytest.approx(cons_d[t0], abs=1e-9)
        assert not b["consumption_estimated"]  # the gap lies inside day 0
    total = sum(s["inc"][m].sum() for m in s["inc"])  # NumPy on the input: true increments
    assert sum(b["consumption_m3"] for b in days) == pytest.approx(total, abs=1e-9)

    # customer C2 (meter C, replaced): flagged, and equal to the true increments
    r = c.get(
        "/api/v1/customers/C2/consumption",
        params={"from": q(day0), "to": q(end), "step": "day"},
        headers=hdr,
    )
    assert r.status_code == 200, r.text
    cd = r.json()["buckets"]
    true_c = s["inc"][s["m_c"]]
    assert cd[0]["volume_m3"] == pytest.approx(true_c[:24].sum(), abs=1e-9)
    assert cd[1]["volume_m3"] == pytest.approx(true_c[24:].sum(), abs=1e-9)
    assert cd[1]["flags"] == ["replacement"] and not cd[1]["estimated"]
    r = c.get(
        "/api/v1/meters/MT-D1-000002/consumption",
        params={"from": q(day0), "to": q(end), "step": "day"},
        headers=hdr,
    )
    assert "rollover" in r.json()["buckets"][0]["flags"]

    # night flow: SQL on raw, per local day min over 15-min buckets of 02:00-04:00
    r = c.get(
        "/api/v1/dmas/D1/night-flow",
        params={
            "from": day0.date().isoformat(),
            "to": (day0 + 24 * H).astimezone(TZ).date().isoformat(),
        },
        headers=hdr,
    )
    assert r.status_code == 200, r.text
    nf = r.json()
    with psycopg.connect(api.db_url) as conn:
        ref = conn.execute(
            """
            SELECT (b AT TIME ZONE 'Asia/Shanghai')::date, min(net) FROM (
              SELECT b, sum(d * a) AS net FROM (
                SELECT date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01Z') AS b,
                       bm.direction AS d, avg(value) AS a
                  FROM readings r JOIN dma_boundary_meters bm ON bm.sensor_id = r.sensor_id
                 GROUP BY 1, 2, r.sensor_id) x GROUP BY b) y
             WHERE extract(hour FROM b AT TIME ZONE 'Asia/Shanghai') IN (2, 3)
             GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
    assert [d["day"] for d in nf["days"]] == [x[0].isoformat() for x in ref]
    assert [d["mnf_lps"] for d in nf["days"]] == pytest.approx([x[1] for x in ref], rel=1e-9)
    assert nf["trend_lps_per_day"] == pytest.approx(ref[1][1] - ref[0][1], rel=1e-9)


def test_latest_series_export_quality_and_errors(api: Api) -> None:
    s = seed(api.db_url)
    day0, c = s["day0"], cast(Any, api.client)
    hdr = api.headers("dispatcher")
    r = c.get("/api/v1/latest", params={"bbox": "121.3,31.1,121.5,31.26"}, headers=hdr)
    assert r.status_code == 200, r.text
    assert sorted(x["code"] for x in r.json()["sensors"]) == ["FT-D1-000001", "FT-D1-000002"]
    assert r.json()["count"] == 2
    first = r.json()["sensors"][0]
    assert first["ts"].endswith("+08:00")
    assert datetime.fromisoformat(first["ts"]) == day0 + 48 * H - timedelta(minutes=1)
    r = c.get("/api/v1/latest", params={"kind": "meter_register", "dma": "D1"}, headers=hdr)
    assert r.json()["count"] == 3
    assert c.get("/api/v1/latest", params={"bbox": "1,2,3"}, headers=hdr).status_code == 422

    end = day0 + 48 * H
    params = {"from": q(day0), "to": q(end)}
    r = c.get("/api/v1/sensors/FT-D1-000001/readings", params=params, headers=hdr)
    assert r.json()["level"] == "15m" and len(r.json()["points"]) == 192
    r = c.get(
        "/api/v1/sensors/FT-D1-000001/readings", params={**params, "max_points": 100}, headers=hdr
    )
    body = r.json()
    assert r.status_code == 200 and body["level"] == "1h" and len(body["points"]) == 48
    with psycopg.connect(api.db_url) as conn:
        ref = conn.execute(
            "SELECT avg(value), min(value), max(value) FROM readings WHERE sensor_id = 1 "
            "AND ts >= %s AND ts < %s",
            (day0, day0 + H),
        ).fetchone()
        raw_n = conn.execute(
            "SELECT count(*) FROM readings WHERE sensor_id = 1 AND ts >= %s AND ts < %s",
            (day0, day0 + 6 * H),
        ).fetchone()
    assert ref is not None and raw_n is not None
    p0 = body["points"][0]
    assert (p0["mean"], p0["min"], p0["max"], p0["count"]) == (
        pytest.approx(ref[0]),
        ref[1],
        ref[2],
        60,
    )
    r = c.get(
        "/api/v1/sensors/FT-D1-000001/readings",
        params={**params, "bucket": "raw", "max_points": 100},
        headers=hdr,
    )
    assert r.json()["truncated"] and len(r.json()["points"]) == 100
    naive = {"from": "2026-01-01T00:00:00", "to": q(end)}
    r = c.get("/api/v1/sensors/FT-D1-000001/readings", params=naive, headers=hdr)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "from"
    extreme = {"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-02T00:00:00+14:00"}
    for path in ("/api/v1/sensors/FT-D1-000001/readings", "/api/v1/dmas/D1/balance"):
        assert c.get(path, params=extreme, headers=hdr).status_code == 422
    r = c.get("/api/v1/sensors/XX/readings", params=params, headers=hdr)
    assert r.status_code == 404

    r = c.get(
        "/api/v1/sensors/FT-D1-000001/readings.csv",
        params={"from": q(day0), "to": q(day0 + 6 * H)},
        headers=api.headers("analyst"),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == ["ts", "value", "quality"] and len(lines) == raw_n[0] + 1
    assert lines[1][0] == q(day0)
    assert (
        c.get(
            "/api/v1/sensors/FT-D1-000001/readings.csv", params=params, headers=api.headers("crew")
        ).status_code
        == 403
    )

    r = c.get("/api/v1/quality", params={"from": q(day0), "to": q(end), "dma": "D1"}, headers=hdr)
    assert r.status_code == 200, r.text
    rep = {x["code"]: x for x in r.json()["sensors"]}
    assert rep["PT-D1-000001"]["stuck"] and "stuck" in rep["PT-D1-000001"]["issues"]
    assert rep["PT-D1-000001"]["completeness"] == pytest.approx(0.2)  # every 5 min, 1-min kind
    assert rep["FT-D1-000001"]["completeness"] == 1.0 and not rep["FT-D1-000001"]["flatline"]
    assert rep["MT-D1-000001"]["received"] == 44  # hours 0-47, 4 missing
    assert rep["FT-D1-000001"]["last_seen"] == q(end - timedelta(minutes=1))
    assert c.get("/api/v1/quality", params=params).status_code == 401
