"""The waternet interval frame (WN1): a day of register readings from an NB-IoT meter.

Byte layout, all integers big-endian (spec and example frame: ``sensors/wnframe.md``)::

    off size field
     0   2   magic "WN" (57 4E)
     2   1   version = 1
     3   1   flags: bit 0 = registers delta-encoded; bits 1-7 zero
     4   8   device id, uint64 (IMEI or serial, shown as at least 15 decimal digits)
    12   4   start time, uint32 epoch seconds UTC, of register 0
    16   2   interval, minutes (1..1440)
    18   2   count of registers (1..1440)
    20   2   battery, mV
    22   2   RSRP, int16 dBm
    24   1   SNR, int8 dB
    25   2   alarm flags (see ALARM_BITS)
    27   n   registers, litres: plain = count x uint32 (0xFFFFFFFF = missing);
             delta = uint32 first + (count-1) x uint16 increments (no gaps, monotonic)
   end   2   CRC-16/MODBUS over bytes 0..end-1
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from waternet.errors import DecodeError
from waternet.ingest.codecs.crc import crc16_modbus

MAGIC = b"WN"
VERSION = 1
FLAG_DELTA = 0x01
MISSING = 0xFFFFFFFF
HEADER = struct.Struct(">2sBBQIHHHhbH")
HEADER_SIZE = HEADER.size  # 27
MIN_SIZE = HEADER_SIZE + 4 + 2
MAX_COUNT = 1440
ALARM_BITS = {
    "leak": 0,  # continuous flow for 24 h
    "burst": 1,  # flow above the meter's burst threshold
    "reverse_flow": 2,
    "tamper": 3,  # magnetic or opened case
    "low_battery": 4,
    "empty_pipe": 5,
    "valve_fault": 6,
    "clock_invalid": 7,
}


@dataclass(frozen=True, slots=True)
class WnFrame:
    device_id: str  # decimal digits
    start: datetime  # aware UTC, time of registers[0]
    interval_min: int
    registers_l: tuple[int | None, ...]  # litres; None = missing
    battery_mv: int
    rsrp_dbm: int
    snr_db: int
    alarms: int = 0
    version: int = VERSION

    def alarm_names(self) -> list[str]:
        return [name for name, bit in ALARM_BITS.items() if self.alarms >> bit & 1]

    def readings(self) -> list[tuple[datetime, int]]:
        """(time, litres) of every register present, in order."""
        step = timedelta(minutes=self.interval_min)
        return [(self.start + i * step, v) for i, v in enumerate(self.registers_l) if v is not None]


def _delta_fits(regs: tuple[int | None, ...]) -> bool:
    if any(v is None for v in regs):
        return False
    values = [v for v in regs if v is not None]
    return all(0 <= b - a <= 0xFFFF for a, b in itertools.pairwise(values))


def encode(frame: WnFrame, *, delta: bool | None = None) -> bytes:
    """Serialise ``frame``. ``delta=None`` picks delta encoding when the registers allow it.

    Raises ValueError for values outside the field ranges.
    """
    regs = frame.registers_l
    if not 1 <= len(regs) <= MAX_COUNT:
        raise ValueError(f"count must be 1..{MAX_COUNT}")
    if not 1 <= frame.interval_min <= 1440:
        raise ValueError("interval_min must be 1..1440")
    if any(v is not None and not 0 <= v < MISSING for v in regs):
        raise ValueError("registers must be 0 <= litres < 2**32 - 1")
    if not frame.device_id.isdigit() or int(frame.device_id) >= 2**64:
        raise ValueError("device_id must be decimal digits below 2**64")
    if frame.start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = frame.start.timestamp()
    if start != int(start) or not 0 <= start < 2**32:
        raise ValueError("start must be a whole second within uint32 epoch seconds")
    use_delta = _delta_fits(regs) if delta is None else delta
    if use_delta and not _delta_fits(regs):
        raise ValueError("registers cannot be delta-encoded (gap, decrease or step > 65535 L)")
    head = HEADER.pack(
        MAGIC,
        frame.version,
        FLAG_DELTA if use_delta else 0,
        int(frame.device_id),
        int(start),
        frame.interval_min,
        len(regs),
        frame.battery_mv,
        frame.rsrp_dbm,
        frame.snr_db,
        frame.alarms,
    )
    if use_delta:
        values = [v for v in regs if v is not None]
        body = struct.pack(">I", values[0]) + struct.pack(
            f">{len(values) - 1}H", *(b - a for a, b in itertools.pairwise(values))
        )
    else:
        body = struct.pack(f">{len(regs)}I", *(MISSING if v is None else v for v in regs))
    data = head + body
    return data + struct.pack(">H", crc16_modbus(data))


def decode(data: bytes) -> WnFrame:
    """Parse a WN1 frame. Raises only ``DecodeError`` (``reason`` is a stable code)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("frame must be bytes", reason="bad_frame")
    data = bytes(data)
    if data[:2] != MAGIC:
        raise DecodeError("no 'WN' magic", reason="bad_frame")
    if len(data) < MIN_SIZE:
        raise DecodeError(f"frame too short ({len(data)} bytes)", reason="bad_length")
    (_, version, flags, device, start, interval, count, battery, rsrp, snr, alarms) = (
        HEADER.unpack_from(data)
    )
    if version != VERSION:
        raise DecodeError(f"unsupported version {version}", reason="unsupported_version")
    delta = bool(flags & FLAG_DELTA)
    expected = HEADER_SIZE + (4 + 2 * (count - 1) if delta else 4 * count) + 2
    if count == 0 or count > MAX_COUNT or len(data) != expected:
        raise DecodeError(f"count {count} does not match {len(data)} bytes", reason="bad_length")
    if crc16_modbus(data[:-2]) != int.from_bytes(data[-2:], "big"):
        raise DecodeError("CRC-16 mismatch", reason="bad_crc")
    if flags & ~FLAG_DELTA or not 1 <= interval <= 1440:
        raise DecodeError("reserved flag set or interval out of range", reason="bad_frame")
    regs: tuple[int | None, ...]
    if delta:
        first = struct.unpack_from(">I", data, HEADER_SIZE)[0]
        steps = struct.unpack_from(f">{count - 1}H", data, HEADER_SIZE + 4)
        values = [first]
        for step in steps:
            values.append(values[-1] + step)
        regs = tuple(values)
    else:
        raw = struct.unpack_from(f">{count}I", data, HEADER_SIZE)
        regs = tuple(None if v == MISSING else v for v in raw)
    return WnFrame(
        device_id=str(device).rjust(15, "0"),
        start=datetime.fromtimestamp(start, UTC),
        interval_min=interval,
        registers_l=regs,
        battery_mv=battery,
        rsrp_dbm=rsrp,
        snr_db=snr,
        alarms=alarms,
        version=version,
    )
