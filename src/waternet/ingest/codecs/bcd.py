"""Packed BCD helpers shared by the meter codecs (low byte first, as CJ/T 188 sends it)."""

from __future__ import annotations

from waternet.errors import DecodeError


def bcd_to_int_le(data: bytes) -> int | None:
    """Little-endian packed BCD to int; ``None`` when every byte is 0xFF (field not supported).

    Raises ``DecodeError(reason="bad_bcd")`` for a nibble above 9.
    """
    if data and all(b == 0xFF for b in data):
        return None
    value = 0
    for byte in reversed(data):
        hi, lo = byte >> 4, byte & 0x0F
        if hi > 9 or lo > 9:
            raise DecodeError(f"invalid BCD byte 0x{byte:02X}", reason="bad_bcd")
        value = value * 100 + hi * 10 + lo
    return value


def int_to_bcd_le(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of little-endian packed BCD; ValueError if it won't fit."""
    if value < 0 or value >= 100**size:
        raise ValueError(f"{value} does not fit in {size} BCD bytes")
    out = bytearray()
    for _ in range(size):
        value, two = divmod(value, 100)
        out.append(((two // 10) << 4) | (two % 10))
    return bytes(out)


def bcd_byte(byte: int) -> int:
    """One packed BCD byte (two digits) to int; ``DecodeError(reason="bad_bcd")`` if invalid."""
    hi, lo = byte >> 4, byte & 0x0F
    if hi > 9 or lo > 9:
        raise DecodeError(f"invalid BCD byte 0x{byte:02X}", reason="bad_bcd")
    return hi * 10 + lo


def to_bcd_byte(value: int) -> int:
    if not 0 <= value <= 99:
        raise ValueError(f"{value} is not two BCD digits")
    return ((value // 10) << 4) | (value % 10)
