"""CJ/T 188 water meter frames: the read-data reply (control 0x81, DI 901F).

Spec with byte layout and worked examples: ``sensors/cjt188.md``. Summary::

    [FE ...] 68 T A0..A6 C L DI DI SER  V0..V3 U  S0..S3 U  ss mm hh DD MM YY YY  ST0 ST1  CS 16

Multi-byte fields are sent low byte first; volumes are 8-digit packed BCD with two decimals; the
checksum CS is the sum mod 256 of every byte from 0x68 through the last data byte. A field the
meter does not support is sent as 0xFF bytes and decodes to ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from waternet.errors import DecodeError
from waternet.ingest.codecs.bcd import bcd_byte, bcd_to_int_le, int_to_bcd_le, to_bcd_byte
from waternet.sensors.models import StatusBits

PREAMBLE = 0xFE
START = 0x68
END = 0x16
CTRL_READ_REPLY = 0x81
WATER_METER_TYPES = frozenset({0x10, 0x11, 0x12, 0x13})  # cold, hot, drinking, reclaimed water
UNIT_M3 = 0x2C
UNIT_L = 0x29
UNIT_FACTORS_M3 = {UNIT_M3: 1.0, UNIT_L: 0.001}
MIN_FRAME = 13  # 68 T A(7) C L CS 16 with no data
DI_901F = "901F"
DI_1F90 = "1F90"


STANDARD_STATUS_BITS = StatusBits()
_VALVE_STATES = {0b00: "open", 0b01: "closed", 0b11: "abnormal", 0b10: "unknown"}


@dataclass(frozen=True, slots=True)
class Cjt188Reading:
    meter_type: int
    address: str  # 14 hex digits, A6 first (as printed on the meter)
    control: int
    di_order: str  # "901F" (90 1F on the wire) or "1F90"
    ser: int
    volume_hundredths: int | None  # exact BCD value, unit given by volume_unit
    volume_unit: int | None
    volume_m3: float | None
    settlement_m3: float | None
    meter_time: datetime | None  # naive: the meter's own clock
    status: int | None
    valve: str | None
    battery_low: bool | None
    flags: dict[str, bool] = field(default_factory=dict)
    extra: bytes = b""  # vendor bytes after ST, if any

    def meter_time_utc(self, meter_tz: tzinfo = UTC) -> datetime | None:
        if self.meter_time is None:
            return None
        try:
            return self.meter_time.replace(tzinfo=meter_tz).astimezone(UTC)
        except (OverflowError, ValueError):
            raise DecodeError("meter time out of range in UTC", reason="bad_time") from None


def strip_preamble(frame: bytes) -> bytes:
    i = 0
    while i < len(frame) and frame[i] == PREAMBLE:
        i += 1
    return frame[i:]


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def _volume(raw: bytes, unit: int) -> tuple[int | None, float | None]:
    hundredths = bcd_to_int_le(raw)
    if hundredths is None:
        return None, None
    factor = UNIT_FACTORS_M3.get(unit)
    if factor is None:
        raise DecodeError(f"unsupported volume unit code 0x{unit:02X}", reason="bad_unit")
    return hundredths, hundredths / 100 * factor


def _time(raw: bytes) -> datetime | None:
    if all(b == 0xFF for b in raw):
        return None
    ss, mi, hh, dd, mo, yl, yh = (bcd_byte(b) for b in raw)
    try:
        return datetime(yh * 100 + yl, mo, dd, hh, mi, ss)
    except ValueError as exc:
        raise DecodeError(f"invalid meter time: {exc}", reason="bad_time") from None


def _status(st: int | None, bits: StatusBits) -> tuple[str | None, bool | None, dict[str, bool]]:
    if st is None:
        return None, None, {}
    valve = None if bits.valve is None else _VALVE_STATES[(st >> bits.valve) & 0b11]
    battery = None if bits.battery_low is None else bool(st >> bits.battery_low & 1)
    return valve, battery, {name: bool(st >> bit & 1) for name, bit in bits.flags}


def decode(frame: bytes, *, status_bits: StatusBits | None = None) -> Cjt188Reading:
    """Decode a 901F read reply. Raises only ``DecodeError`` (``reason`` is a stable code)."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise DecodeError("frame must be bytes", reason="bad_frame")
    body = strip_preamble(bytes(frame))
    if not body or body[0] != START:
        raise DecodeError("no 0x68 start byte", reason="bad_frame")
    if len(body) < MIN_FRAME:
        raise DecodeError(f"frame too short ({len(body)} bytes)", reason="bad_length")
    length = body[10]
    if len(body) != MIN_FRAME + length:
        raise DecodeError(
            f"length field {length} does not match {len(body)} frame bytes", reason="bad_length"
        )
    if body[-1] != END:
        raise DecodeError("no 0x16 end byte", reason="bad_frame")
    if checksum(body[:-2]) != body[-2]:
        raise DecodeError(
            f"checksum 0x{body[-2]:02X}, computed 0x{checksum(body[:-2]):02X}",
            reason="bad_checksum",
        )
    meter_type, control = body[1], body[9]
    if meter_type not in WATER_METER_TYPES:
        raise DecodeError(
            f"meter type 0x{meter_type:02X} is not a water meter", reason="unsupported_type"
        )
    if control & 0x40:
        raise DecodeError(
            f"meter answered with error control 0x{control:02X}", reason="meter_error"
        )
    if control != CTRL_READ_REPLY:
        raise DecodeError(
            f"control code 0x{control:02X} is not a read reply", reason="unsupported_control"
        )
    data = body[11:-2]
    if len(data) < 3:
        raise DecodeError("data too short for DI and SER", reason="bad_length")
    if data[:2] == b"\x90\x1f":
        di_order = DI_901F
    elif data[:2] == b"\x1f\x90":
        di_order = DI_1F90
    else:
        raise DecodeError(
            f"data identifier {data[:2].hex().upper()} is not 901F", reason="unsupported_di"
        )
    if len(data) not in (8, 13, 20) and len(data) < 22:
        raise DecodeError(f"data length {len(data)} cuts a field", reason="bad_length")
    address = body[2:9][::-1].hex().upper()
    hundredths = volume_unit = volume = settlement = meter_time = st = None
    if len(data) >= 8:
        volume_unit = data[7]
        hundredths, volume = _volume(data[3:7], volume_unit)
        if hundredths is None:
            volume_unit = None
    if len(data) >= 13:
        settlement = _volume(data[8:12], data[12])[1]
    if len(data) >= 20:
        meter_time = _time(data[13:20])
    if len(data) >= 22 and data[20:22] != b"\xff\xff":
        st = data[20] | data[21] << 8
    valve, battery, flags = _status(st, status_bits or STANDARD_STATUS_BITS)
    return Cjt188Reading(
        meter_type=meter_type,
        address=address,
        control=control,
        di_order=di_order,
        ser=data[2],
        volume_hundredths=hundredths,
        volume_unit=volume_unit,
        volume_m3=volume,
        settlement_m3=settlement,
        meter_time=meter_time,
        status=st,
        valve=valve,
        battery_low=battery,
        flags=flags,
        extra=bytes(data[22:]),
    )


def _address_bytes(address: str) -> bytes:
    digits = address.strip()
    if not digits or len(digits) > 14:
        raise ValueError("address must be 1-14 hex digits")
    try:
        return bytes.fromhex(digits.rjust(14, "0"))[::-1]
    except ValueError:
        raise ValueError(f"address {address!r} is not hexadecimal") from None


def _volume_bytes(volume_m3: float | None, unit_code: int) -> bytes:
    if volume_m3 is None:
        return b"\xff" * 5
    factor = UNIT_FACTORS_M3.get(unit_code)
    if factor is None:
        raise ValueError(f"unsupported unit code 0x{unit_code:02X}")
    return int_to_bcd_le(round(volume_m3 / factor * 100), 4) + bytes([unit_code])


def encode_read_reply(
    *,
    address: str,
    volume_m3: float,
    settlement_m3: float | None = None,
    unit_code: int = UNIT_M3,
    meter_time: datetime | None = None,
    status: int = 0,
    di_order: str = DI_901F,
    preamble: bool = True,
    ser: int = 0,
    meter_type: int = 0x10,
    meter_tz: tzinfo = UTC,
) -> bytes:
    """Build a 901F read reply as a meter would send it (the simulators use this).

    An aware ``meter_time`` is written as wall-clock time in ``meter_tz``; a naive one as is;
    ``None`` (and ``settlement_m3=None``) are sent as 0xFF bytes. Raises ValueError on input that
    cannot be represented (negative volume, more than 8 BCD digits, bad address...).
    """
    if di_order not in (DI_901F, DI_1F90):
        raise ValueError("di_order must be '901F' or '1F90'")
    if not 0 <= status <= 0xFFFF or not 0 <= ser <= 0xFF:
        raise ValueError("status must fit 16 bits and ser 8 bits")
    if meter_time is None:
        time_bytes = b"\xff" * 7
    else:
        if meter_time.tzinfo is not None:
            meter_time = meter_time.astimezone(meter_tz).replace(tzinfo=None)
        t = meter_time
        time_bytes = bytes(
            to_bcd_byte(v)
            for v in (t.second, t.minute, t.hour, t.day, t.month, t.year % 100, t.year // 100)
        )
    data = (
        (b"\x90\x1f" if di_order == DI_901F else b"\x1f\x90")
        + bytes([ser])
        + _volume_bytes(volume_m3, unit_code)
        + _volume_bytes(settlement_m3, unit_code)
        + time_bytes
        + bytes([status & 0xFF, status >> 8])
    )
    head = bytes([START, meter_type]) + _address_bytes(address)
    body = head + bytes([CTRL_READ_REPLY, len(data)]) + data
    return (b"\xfe" * 4 if preamble else b"") + body + bytes([checksum(body), END])
