import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.telemetry.vectors import WN_1, WN_2, hx
from waternet.errors import DecodeError
from waternet.ingest import codecs
from waternet.ingest.codecs import wnframe


def test_vector_1_delta() -> None:
    f = wnframe.decode(hx(WN_1))
    assert f.device_id == "860803030676429"
    assert f.start == datetime(2024, 3, 14, 16, 0, tzinfo=UTC)
    assert f.interval_min == 60
    assert f.registers_l == (1234500, 1234520, 1234600, 1234600)
    assert (f.battery_mv, f.rsrp_dbm, f.snr_db) == (3600, -95, 7)
    assert f.alarm_names() == ["low_battery"]
    assert f.readings()[-1] == (datetime(2024, 3, 14, 19, 0, tzinfo=UTC), 1234600)
    assert wnframe.encode(f) == hx(WN_1)


def test_vector_2_plain_with_gap() -> None:
    f = wnframe.decode(hx(WN_2))
    assert f.registers_l == (100000, None, 100250)
    assert (f.battery_mv, f.rsrp_dbm, f.snr_db, f.alarm_names()) == (3412, -112, -3, ["leak"])
    assert [t for t, _ in f.readings()] == [f.start, f.start + timedelta(minutes=30)]
    assert wnframe.encode(f) == hx(WN_2)


def test_detect() -> None:
    assert codecs.detect(hx(WN_1)) == "wnframe"
    assert codecs.detect(b"\xfe\xfe\x68") == "cjt188"
    assert codecs.detect(b"\x68") == "cjt188"
    assert codecs.detect(b"{}") is None
    assert codecs.detect(b"") is None


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "bad_crc"),
        (lambda f: f[:30] + bytes([f[30] ^ 0x10]) + f[31:], "bad_crc"),
        (lambda f: f[:-3] + f[-2:], "bad_length"),
        (lambda f: b"WX" + f[2:], "bad_frame"),
        (lambda f: f[:2] + b"\x02" + f[3:], "unsupported_version"),
        (lambda f: f[:20], "bad_length"),
    ],
)
def test_corrupted(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError) as err:
        wnframe.decode(mutate(hx(WN_1)))
    assert err.value.reason == reason


def test_encoder_validation() -> None:
    base = wnframe.decode(hx(WN_1))
    assert wnframe.encode(base, delta=False) != wnframe.encode(base, delta=True)
    with pytest.raises(ValueError):
        wnframe.encode(wnframe.WnFrame(**{**_fields(base), "registers_l": (5, 4)}), delta=True)
    with pytest.raises(ValueError):
        wnframe.encode(wnframe.WnFrame(**{**_fields(base), "registers_l": ()}))
    with pytest.raises(ValueError):
        wnframe.encode(wnframe.WnFrame(**{**_fields(base), "start": datetime(2024, 1, 1)}))


def _fields(f: wnframe.WnFrame) -> dict:  # type: ignore[type-arg]
    return {k: getattr(f, k) for k in wnframe.WnFrame.__slots__}  # type: ignore[attr-defined]


registers = st.lists(st.none() | st.integers(0, 2**32 - 2), min_size=1, max_size=300)
monotonic = st.tuples(st.integers(0, 2**31), st.lists(st.integers(0, 65535), max_size=300)).map(
    lambda p: [p[0] + sum(p[1][:i]) for i in range(len(p[1]) + 1)]
)


@settings(max_examples=150, deadline=None)
@given(
    regs=registers | monotonic,
    device=st.integers(0, 10**15 - 1),
    start=st.integers(0, 2**32 - 1),
    interval=st.integers(1, 1440),
    battery=st.integers(0, 65535),
    rsrp=st.integers(-32768, 32767),
    snr=st.integers(-128, 127),
    alarms=st.integers(0, 65535),
)
def test_round_trip(regs, device, start, interval, battery, rsrp, snr, alarms) -> None:  # type: ignore[no-untyped-def]
    frame = wnframe.WnFrame(
        device_id=f"{device:015d}",
        start=datetime.fromtimestamp(start, UTC),
        interval_min=interval,
        registers_l=tuple(regs),
        battery_mv=battery,
        rsrp_dbm=rsrp,
        snr_db=snr,
        alarms=alarms,
    )
    data = wnframe.encode(frame)
    assert wnframe.decode(data) == frame
    assert bool(data[3] & 1) == (
        None not in regs and all(0 <= b - a <= 65535 for a, b in itertools.pairwise(regs))
    )  # type: ignore[operator]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80) | st.binary(max_size=60).map(lambda b: b"WN\x01" + b))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        wnframe.decode(data)
    except DecodeError as exc:
        assert exc.reason


def test_docs_carry_the_test_vectors() -> None:
    from tests.unit.telemetry import vectors
    from waternet.sensors.catalogue import sensors_dir

    def flat(text: str) -> str:
        return " ".join(text.split())

    docs = {name: flat((sensors_dir() / name).read_text()) for name in ("cjt188.md", "wnframe.md")}
    for name, doc in (
        ("CJT_A", "cjt188.md"),
        ("CJT_B", "cjt188.md"),
        ("CJT_C", "cjt188.md"),
        ("CJT_E", "cjt188.md"),
        ("WN_1", "wnframe.md"),
        ("WN_2", "wnframe.md"),
    ):
        assert flat(getattr(vectors, name)) in docs[doc], name
