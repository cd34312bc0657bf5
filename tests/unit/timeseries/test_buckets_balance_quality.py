"""Bucket definitions and generated SQL, balance and night flow, quality verdicts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from waternet.errors import ConfigError
from waternet.timeseries import levels as buckets
from waternet.timeseries.analytics import balance, quality
from waternet.timeseries.lifecycle import RetentionPolicy

SH = ZoneInfo("Asia/Shanghai")


def test_levels_form_a_chain_and_both_generators_use_every_aggregate() -> None:
    names = [lv.name for lv in buckets.LEVELS]
    assert names == ["1m", "15m", "1h", "1d"]
    for finer, coarser in zip(buckets.LEVELS, buckets.LEVELS[1:], strict=False):
        assert coarser.source == finer.name
        assert coarser.width % finer.width == timedelta(0)
    for lv in buckets.LEVELS:
        svc = buckets.refresh_sql(lv)
        cagg = "\n".join(buckets.cagg_sql(lv, tz="Asia/Shanghai"))
        for col, *_ in buckets.AGGREGATES:
            assert f"{col} = EXCLUDED.{col}" in svc
            assert f"AS {col}" in cagg
        assert buckets.source_table(lv) in svc and buckets.source_table(lv) in cagg
    assert "time_bucket(INTERVAL '1 day', bucket, 'Asia/Shanghai')" in "\n".join(
        buckets.cagg_sql(buckets.level("1d"), tz="Asia/Shanghai")
    )


def test_choose_level_picks_finest_that_fits() -> None:
    assert buckets.choose_level(timedelta(hours=6), max_points=2000) == "raw"
    assert buckets.choose_level(timedelta(days=7), max_points=2000) == "15m"
    assert buckets.choose_level(timedelta(days=30), max_points=2000) == "1h"
    assert buckets.choose_level(timedelta(days=365), max_points=2000) == "1d"
    assert buckets.choose_level(timedelta(days=36500), max_points=10) == "1d"
    with pytest.raises(KeyError):
        buckets.level("5m")


def test_retention_policy_refuses_a_level_kept_shorter_than_its_source() -> None:
    p = RetentionPolicy()
    assert p.raw_days == 400 and p.level_days["1d"] is None

    class S:
        retention_raw_days = 30
        retention_1m_days = 0  # 0 = forever... then 15m must be forever too

    with pytest.raises(ConfigError):
        RetentionPolicy.from_settings(S())
    with pytest.raises(ConfigError):
        RetentionPolicy(raw_days=800)


def test_minimum_night_flow_uses_local_0200_0400_and_trend() -> None:
    start = datetime(2026, 3, 1, tzinfo=SH)
    buckets_ = [start + timedelta(minutes=15 * i) for i in range(96 * 10)]
    rng = np.random.default_rng(1)
    net = 20 + 10 * rng.random(len(buckets_))
    day_index = np.array([(b - start).days for b in buckets_])
    hours = np.array([b.astimezone(SH).hour for b in buckets_])
    night = (hours >= 2) & (hours < 4)
    net[night] = 3.0 + 0.5 * day_index[night] + rng.random(night.sum()) * 0.1
    net[~night] += 5.0
    nf = balance.minimum_night_flow(buckets_, net, tz=SH, window=3)
    assert nf.days == [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]
    ref = [net[night & (day_index == d)].min() for d in range(10)]
    assert nf.mnf_lps == pytest.approx(ref)
    assert nf.slope_lps_per_day == pytest.approx(0.5, abs=0.02)
    assert nf.moving_lps[1] == pytest.approx(np.mean(ref[0:3]))


def test_net_inflow_needs_every_boundary_meter() -> None:
    net = balance.net_inflow(
        np.array([0, 0, 1]),
        np.array([1, 2, 1]),
        np.array([10.0, 4.0, 9.0]),
        np.array([1.0, -1.0, 1.0]),
        n_buckets=2,
        n_sensors=2,
    )
    assert net[0] == 6.0 and np.isnan(net[1])
    b = balance.water_balance(
        balance.flow_volume_m3(net, 3600.0), np.array([20.0, 1.0]), np.array([False, True])
    )
    assert b.inflow_m3[0] == pytest.approx(21.6)
    assert b.loss_m3[0] == pytest.approx(1.6)
    assert np.isnan(b.loss_m3[1])


def test_quality_verdicts() -> None:
    assert quality.completeness(1440, 86400, 60) == 1.0
    assert quality.completeness(720, 86400, 60) == 0.5
    v = quality.flat_verdict("PT", count=360, vmin=31.2, vmax=31.2)
    assert v.stuck and v.flatline
    v = quality.flat_verdict("PT", count=360, vmin=31.2, vmax=31.205)
    assert not v.stuck and v.flatline
    assert not quality.flat_verdict("PT", count=360, vmin=30.0, vmax=31.0).flatline
    assert not quality.flat_verdict("PS", count=360, vmin=1, vmax=1).checked
    q = quality.assess(
        code="PT-D1-000001",
        kind="PT",
        meta={"interval_s": 300},
        window_s=3600,
        received=6,
        flat_count=6,
        flat_min=1.0,
        flat_max=2.0,
        last_seen=None,
        last_received=None,
        now=datetime.now(UTC),
    )
    assert q.completeness == 0.5 and q.issues == ["incomplete", "never_seen"]
