"""One reader for inputs given as a path or as the text itself (layer CSVs, valve layers,
customers): the importers and the file-based isolation commands read them the same way."""

from __future__ import annotations

import os
from pathlib import Path

from waternet.errors import ValidationFailed


def read_text(path_or_text: str | os.PathLike[str]) -> str:
    """The content of a path, or the text itself.

    A ``PathLike`` is always a path. A string is the text itself when it holds a newline, or a
    comma and no existing file of that name (a one-line CSV); otherwise it is a path. A leading
    byte-order mark is dropped. An unreadable path raises :class:`ValidationFailed` with one
    ``unreadable`` problem in the import-report shape.
    """
    if isinstance(path_or_text, str):
        s = path_or_text
        if "\n" in s or ("," in s and not Path(s).exists()):
            return s.lstrip("\ufeff")
    try:
        return Path(path_or_text).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(
            f"cannot read {path_or_text}: {exc.strerror}",
            details=[
                {
                    "severity": "error",
                    "code": "unreadable",
                    "element": str(path_or_text),
                    "layer": "",
                    "message": str(exc),
                }
            ],
        ) from exc
