"""CRC-16/MODBUS, table driven.

Parameters (Rocksoft model): width 16, poly 0x8005 (reflected 0xA001), init 0xFFFF, refin and
refout true, xorout 0x0000, check ("123456789") 0x4B37. It is the CRC of Modbus RTU; waternet
frames (``wnframe``) use it.
"""

from __future__ import annotations

CRC16_MODBUS_CHECK = 0x4B37


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/MODBUS of ``data``; pass a previous result as ``crc`` to continue a running CRC."""
    for byte in bytes(data):
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
