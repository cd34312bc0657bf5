"""Binary frame codecs: CJ/T 188 meter replies and the waternet WN1 interval frame.

Pure code: no I/O. Every decoder raises only ``waternet.errors.DecodeError`` with a stable
``reason``.
"""

from __future__ import annotations

from typing import Literal

FrameKind = Literal["cjt188", "wnframe"]


def detect(frame: bytes) -> FrameKind | None:
    """Which codec a binary frame is for, from its first bytes; ``None`` if neither."""
    if frame[:2] == b"WN":
        return "wnframe"
    if frame[:1] in (b"\xfe", b"\x68"):
        return "cjt188"
    return None


__all__ = ["FrameKind", "detect"]
