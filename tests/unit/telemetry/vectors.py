"""Worked examples from sensors/cjt188.md and sensors/wnframe.md (keep the two in step)."""

CJT_A = (
    "FE FE FE FE 68 10 78 56 34 12 00 00 00 81 16 90 1F 00 56 34 12 00 2C 00 00 12 00 2C "
    "00 30 08 15 03 24 20 00 00 6C 16"
)
CJT_B = (
    "68 10 77 66 55 44 33 22 11 81 16 1F 90 00 50 00 00 00 2C FF FF FF FF FF FF FF FF FF "
    "FF FF FF 04 00 0E 16"
)
CJT_C = (
    "68 10 78 56 34 12 00 00 00 81 16 90 1F 00 45 23 01 00 29 FF FF FF FF FF 59 59 23 31 "
    "12 24 20 00 00 BB 16"
)
CJT_E = (
    "FE FE FE FE 68 10 21 43 65 87 00 00 00 81 16 90 1F 00 43 65 87 09 2C FF FF FF FF FF "
    "05 04 03 02 01 25 20 08 01 CA 16"
)
WN_1 = (
    "57 4E 01 01 00 03 0E E5 52 DD 73 CD 65 F3 1F 00 00 3C 00 04 0E 10 FF A1 07 00 10 00 "
    "12 D6 44 00 14 00 50 00 00 67 26"
)
WN_2 = (
    "57 4E 01 00 00 03 0E E5 52 DD 73 CD 65 F3 1F 00 00 0F 00 03 0D 54 FF 90 FD 00 01 00 "
    "01 86 A0 FF FF FF FF 00 01 87 9A 12 29"
)


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))
