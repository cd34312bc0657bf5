"""Meter consumption: rollover, replacement, reverse flow, gaps (NumPy, no database)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.timeseries.analytics.consumption import (
    ESTIMATED,
    GAP,
    REPLACEMENT,
    REVERSE,
    ROLLOVER,
    Replacement,
    bucket_consumption,
    consumption,
    flag_names,
    register_intervals,
)

H = 3600.0


def test_plain_register_gives_differences_assigned_to_end_bucket() -> None:
    ts = [0, H, 2 * H, 3 * H, 4 * H]
    v = [10.0, 10.5, 11.0, 11.0, 12.25]
    bc = consumption(ts, v, [0, 2 * H, 4 * H])
    # (0, 2H]: 0.5 + 0.5; (2H, 4H]: 0 + 1.25
    assert bc.volume.tolist() == [1.0, 1.25]
    assert not bc.estimated.any()
    assert bc.complete.all()
    assert bc.flags.tolist() == [0, 0]


def test_rollover_at_capacity() -> None:
    iv = register_intervals([0, H, 2 * H], [99_999.0, 99_999.6, 0.4], capacity=100_000.0)
    assert iv.volume == pytest.approx([0.6, 0.8])
    assert iv.flags.tolist() == [0, ROLLOVER]


def test_small_drop_is_reverse_flow_not_rollover() -> None:
    iv = register_intervals([0, H], [500.2, 500.1], capacity=100_000.0)
    assert iv.volume == pytest.approx([-0.1])
    assert iv.flags.tolist() == [REVERSE]


def test_unannounced_replacement_counts_new_meter_from_zero_and_is_estimated() -> None:
    iv = register_intervals([0, H, 2 * H], [1234.0, 0.3, 0.9], capacity=100_000.0)
    assert iv.volume == pytest.approx([0.3, 0.6])
    assert iv.flags.tolist() == [REPLACEMENT | ESTIMATED, 0]
    assert flag_names(int(iv.flags[0])) == ["replacement", "estimated"]


def test_known_replacement_uses_final_and_initial_readings() -> None:
    rep = Replacement(at=1.5 * H, old_final_value=1234.4, new_initial_value=0.1)
    iv = register_intervals([0, H, 2 * H], [1234.0, 1234.2, 0.5], replacements=[rep])
    assert iv.volume == pytest.approx([0.2, (1234.4 - 1234.2) + (0.5 - 0.1)])
    assert iv.flags.tolist() == [0, REPLACEMENT]
    unknown = register_intervals(
        [0, H, 2 * H], [1234.0, 1234.2, 0.5], replacements=[Replacement(at=1.5 * H)]
    )
    assert unknown.volume == pytest.approx([0.2, 0.5])
    assert unknown.flags[1] == REPLACEMENT | ESTIMATED


def test_gap_is_spread_and_flagged_estimated_never_invented_beyond_readings() -> None:
    # hourly readings, then nothing for 4 hours, then one more, then the series ends
    ts = [0, H, 5 * H]
    v = [0.0, 1.0, 5.0]
    edges = [0, H, 2 * H, 3 * H, 4 * H, 5 * H, 6 * H, 7 * H]
    bc = consumption(ts, v, edges, expected_interval_s=H)
    assert bc.volume[:5] == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0])
    assert bc.estimated.tolist() == [False, True, True, True, True, False, False]
    assert np.isnan(bc.volume[5:]).all()  # after the last reading: unknown, not zero
    assert bc.complete.tolist() == [True] * 5 + [False, False]
    assert bc.flags[2] & GAP


def test_gap_inside_one_bucket_is_exact() -> None:
    ts = [0, H, 5 * H, 6 * H]
    bc = consumption(ts, [0.0, 1.0, 3.0, 3.5], [0, 24 * H], expected_interval_s=H)
    assert bc.volume.tolist() == [3.5]
    assert not bc.estimated.any()


def test_rejects_unsorted_times() -> None:
    with pytest.raises(ValueError):
        register_intervals([0, 2, 1], [0.0, 1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(0, 5, allow_nan=False), min_size=2, max_size=60),
    cap=st.sampled_from([None, 1000.0]),
    start=st.floats(0, 999.0),
    bucket_h=st.integers(1, 7),
)
def test_total_over_covering_buckets_equals_register_increase(
    steps: list[float], cap: float | None, start: float, bucket_h: int
) -> None:
    """Readings every hour; a register wrapping at ``cap``: the sum over buckets covering the
    whole series is the true consumption, whatever the bucket width."""
    true = np.concatenate([[0.0], np.cumsum(steps)])
    reg = start + true
    if cap is not None:
        reg = np.mod(reg, cap)
    ts = np.arange(true.size) * H
    edges = np.arange(0, (true.size + bucket_h) * H, bucket_h * H) - 0.5 * H
    bc = consumption(ts, reg, edges, capacity=cap, expected_interval_s=H)
    assert np.nansum(bc.volume) == pytest.approx(true[-1], abs=1e-6)
    assert not bc.estimated.any()
    # NumPy reference per bucket: the true increments of the readings ending in it
    k = np.searchsorted(edges, ts[1:], side="left") - 1
    ref = np.bincount(k, weights=np.diff(true), minlength=edges.size - 1)
    got = np.nan_to_num(bc.volume)
    assert got == pytest.approx(ref, abs=1e-6)


def test_bucket_consumption_with_no_intervals() -> None:
    bc = bucket_consumption(register_intervals([5.0], [1.0]), [0, 10, 20])
    assert np.isnan(bc.volume).all()
