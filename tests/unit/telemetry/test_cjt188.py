from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.telemetry.vectors import CJT_A, CJT_B, CJT_C, CJT_E, hx
from waternet.errors import DecodeError
from waternet.ingest.codecs import cjt188
from waternet.ingest.codecs.bcd import bcd_to_int_le, int_to_bcd_le
from waternet.ingest.codecs.crc import CRC16_MODBUS_CHECK, crc16_modbus


def test_crc16_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == CRC16_MODBUS_CHECK == 0x4B37
    assert crc16_modbus(b"56789", crc16_modbus(b"1234")) == 0x4B37


def test_bcd_helpers() -> None:
    assert int_to_bcd_le(12345678, 4) == bytes([0x78, 0x56, 0x34, 0x12])
    assert bcd_to_int_le(bytes([0x78, 0x56, 0x34, 0x12])) == 12345678
    assert bcd_to_int_le(b"\xff\xff") is None
    with pytest.raises(DecodeError) as err:
        bcd_to_int_le(b"\x1a")
    assert err.value.reason == "bad_bcd"


def test_vector_a_standard_2004() -> None:
    r = cjt188.decode(hx(CJT_A))
    assert r.address == "00000012345678"
    assert r.di_order == "901F" and r.control == 0x81 and r.meter_type == 0x10
    assert r.volume_hundredths == 123456 and r.volume_m3 == pytest.approx(1234.56)
    assert r.volume_unit == 0x2C
    assert r.settlement_m3 == pytest.approx(1200.0)
    assert r.meter_time == datetime(2024, 3, 15, 8, 30, 0)
    assert r.status == 0 and r.valve == "open" and r.battery_low is False


def test_vector_b_2018_order_with_unsupported_fields() -> None:
    r = cjt188.decode(hx(CJT_B))
    assert r.di_order == "1F90"
    assert r.address == "11223344556677"
    assert r.volume_m3 == pytest.approx(0.5)
    assert r.settlement_m3 is None and r.meter_time is None
    assert r.status == 0x0004 and r.battery_low is True and r.valve == "open"


def test_vector_c_litres_unit() -> None:
    r = cjt188.decode(hx(CJT_C))
    assert r.volume_unit == 0x29 and r.volume_hundredths == 12345
    assert r.volume_m3 == pytest.approx(0.12345)
    assert r.meter_time == datetime(2024, 12, 31, 23, 59, 59)


def test_vector_e_vendor_status_bits() -> None:
    frame = hx(CJT_E)
    std = cjt188.decode(frame)
    assert std.status == 0x0108 and std.valve == "open" and std.battery_low is False
    bits = cjt188.StatusBits(valve=8, battery_low=10, flags=(("magnetic_attack", 3),))
    vendor = cjt188.decode(frame, status_bits=bits)
    assert vendor.valve == "closed" and vendor.battery_low is False
    assert vendor.flags == {"magnetic_attack": True}
    assert vendor.volume_m3 == pytest.approx(98765.43)


def test_meter_time_in_a_zone() -> None:
    r = cjt188.decode(hx(CJT_A))
    cst = timezone(timedelta(hours=8))
    assert r.meter_time_utc(cst) == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)


def test_encoder_reproduces_vector_a() -> None:
    frame = cjt188.encode_read_reply(
        address="12345678",
        volume_m3=1234.56,
        settlement_m3=1200.0,
        meter_time=datetime(2024, 3, 15, 8, 30),
    )
    assert frame == hx(CJT_A)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f[:-2] + bytes([(f[-2] + 1) & 0xFF]) + f[-1:], "bad_checksum"),
        (lambda f: f[:-1] + b"\x17", "bad_frame"),
        (lambda f: f[:-3] + f[-2:], "bad_length"),
        (lambda f: b"\x00" + f, "bad_frame"),
        (lambda f: f[:10], "bad_length"),
    ],
)
def test_corrupted_frames(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError) as err:
        cjt188.decode(mutate(hx(CJT_B)))
    assert err.value.reason == reason


def _rebuild(body: bytes) -> bytes:
    return body[:-2] + bytes([sum(body[:-2]) & 0xFF]) + body[-1:]


def test_semantic_errors() -> None:
    base = bytearray(hx(CJT_B))
    gas = bytearray(base)
    gas[1] = 0x30
    with pytest.raises(DecodeError, match="water") as err:
        cjt188.decode(_rebuild(bytes(gas)))
    assert err.value.reason == "unsupported_type"
    bad_di = bytearray(base)
    bad_di[11] = 0x81
    with pytest.raises(DecodeError) as err:
        cjt188.decode(_rebuild(bytes(bad_di)))
    assert err.value.reason == "unsupported_di"
    bad_bcd = bytearray(base)
    bad_bcd[14] = 0x5A
    with pytest.raises(DecodeError) as err:
        cjt188.decode(_rebuild(bytes(bad_bcd)))
    assert err.value.reason == "bad_bcd"
    err_reply = bytearray(base)
    err_reply[9] = 0xC1
    with pytest.raises(DecodeError) as err:
        cjt188.decode(_rebuild(bytes(err_reply)))
    assert err.value.reason == "meter_error"
    bad_unit = bytearray(base)
    bad_unit[18] = 0x05
    with pytest.raises(DecodeError) as err:
        cjt188.decode(_rebuild(bytes(bad_unit)))
    assert err.value.reason == "bad_unit"


def test_short_reply_with_volume_only() -> None:
    body = bytes(
        [0x68, 0x10, 1, 0, 0, 0, 0, 0, 0, 0x81, 8, 0x90, 0x1F, 7, 0x00, 0x01, 0x00, 0x00, 0x2C]
    )
    r = cjt188.decode(body + bytes([sum(body) & 0xFF, 0x16]))
    assert r.volume_m3 == pytest.approx(1.0) and r.meter_time is None and r.status is None
    assert r.ser == 7


def test_encoder_refuses_unrepresentable() -> None:
    with pytest.raises(ValueError):
        cjt188.encode_read_reply(address="1", volume_m3=-1.0)
    with pytest.raises(ValueError):
        cjt188.encode_read_reply(address="1", volume_m3=1e6)
    with pytest.raises(ValueError):
        cjt188.encode_read_reply(address="XYZ", volume_m3=1.0)


times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    address=st.integers(0, 10**14 - 1).map(lambda n: f"{n:014d}"),
    hundredths=st.integers(0, 10**8 - 1),
    settlement=st.none() | st.integers(0, 10**8 - 1),
    meter_time=st.none() | times.map(lambda t: t.replace(microsecond=0)),
    status=st.integers(0, 0xFFFE),
    di_order=st.sampled_from(["901F", "1F90"]),
    preamble=st.booleans(),
    ser=st.integers(0, 255),
)
def test_round_trip(
    address,
    hundredths,
    settlement,
    meter_time,
    status,
    di_order,  # type: ignore[no-untyped-def]
    preamble,
    ser,
) -> None:
    frame = cjt188.encode_read_reply(
        address=address,
        volume_m3=hundredths / 100,
        settlement_m3=None if settlement is None else settlement / 100,
        meter_time=meter_time,
        status=status,
        di_order=di_order,
        preamble=preamble,
        ser=ser,
    )
    r = cjt188.decode(frame)
    assert r.address == address and r.volume_hundredths == hundredths
    assert r.settlement_m3 == (None if settlement is None else pytest.approx(settlement / 100))
    assert r.meter_time == meter_time and r.di_order == di_order and r.ser == ser
    assert r.status == status


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        cjt188.decode(data)
    except DecodeError as exc:
        assert exc.reason


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_valid_frames_raise_only_decode_error(data) -> None:  # type: ignore[no-untyped-def]
    frame = bytearray(hx(CJT_A))
    for _ in range(data.draw(st.integers(1, 4))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    try:
        cjt188.decode(bytes(frame))
    except DecodeError as exc:
        assert exc.reason
