"""Sensor CSV parsing: rows as dicts, malformed files refused with a clear message."""

import pytest

from waternet.errors import ValidationFailed
from waternet.sensors.service import parse_sensor_csv


def test_rows_and_crlf() -> None:
    rows = parse_sensor_csv("code,kind\r\nPT-D01-000001,PT\r\nPT-D01-000002,PT\r\n")
    assert rows == [
        {"code": "PT-D01-000001", "kind": "PT"},
        {"code": "PT-D01-000002", "kind": "PT"},
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind\nPT\n", "'code' column"),
        ("", "'code' column"),
        ("code,note\nPT-D01-000001," + "x" * 200_000 + "\n", "malformed CSV at line"),
        ('code,note\nPT-D01-000001,"unterminated\n', "malformed CSV"),
    ],
)
def test_malformed(text: str, words: str) -> None:
    with pytest.raises(ValidationFailed, match=words):
        parse_sensor_csv(text)
