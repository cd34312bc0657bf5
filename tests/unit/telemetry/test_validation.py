from datetime import UTC, datetime, timedelta

import pytest

from waternet.errors import ValidationFailed
from waternet.ingest.formats.mqtt import RawReading
from waternet.ingest.validation import SensorSpec, ValidationReason, normalize, validate
from waternet.sensors import catalogue
from waternet.sensors import codes as sensorcode

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
PT = SensorSpec(code="PT-D03-000123", kind="PT", unit="m", min=-10, max=100)
PS = SensorSpec(code="PS-X-000001", kind="PS", unit="state", min=0, max=1)


def check(reading: RawReading, sensor: SensorSpec | None) -> str | None:
    return validate(
        reading, sensor, now=NOW, future_margin=timedelta(minutes=5), max_age=timedelta(days=30)
    )


def r(
    value: float, *, code: str = "PT-D03-000123", unit: str | None = None, ts: datetime = NOW
) -> RawReading:
    return RawReading(sensor_code=code, ts=ts, value=value, unit=unit)


def test_accepts_and_converts() -> None:
    assert check(r(35.0), PT) is None
    assert check(r(3.0, unit="bar"), PT) is None
    assert normalize(r(3.0, unit="bar"), PT).value == pytest.approx(30.591486)
    assert normalize(r(3.0, unit="bar"), PT).unit is None
    assert check(r(1, code="PS-X-000001"), PS) is None


def test_each_reason() -> None:
    assert check(r(1), None) == ValidationReason.UNKNOWN_SENSOR
    assert check(r(1, code="PT-D03-000124"), PT) == ValidationReason.UNKNOWN_SENSOR
    disabled = SensorSpec(code=PT.code, kind="PT", unit="m", min=-10, max=100, status="disabled")
    assert check(r(1), disabled) == ValidationReason.SENSOR_DISABLED
    assert check(r(float("nan")), PT) == ValidationReason.NAN
    assert check(r(float("inf")), PT) == ValidationReason.NAN
    assert check(r(1, unit="m3/h"), PT) == ValidationReason.UNIT_MISMATCH
    assert check(r(1, unit="furlong"), PT) == ValidationReason.UNIT_MISMATCH
    assert check(r(150.0), PT) == ValidationReason.OUT_OF_RANGE
    assert check(r(11.0, unit="bar"), PT) == ValidationReason.OUT_OF_RANGE
    assert check(r(0.5, code="PS-X-000001"), PS) == ValidationReason.OUT_OF_RANGE
    assert check(r(1, ts=NOW + timedelta(minutes=6)), PT) == ValidationReason.FUTURE_TIMESTAMP
    assert check(r(1, ts=NOW + timedelta(minutes=4)), PT) is None
    assert check(r(1, ts=NOW - timedelta(days=31)), PT) == ValidationReason.TOO_OLD


def test_meter_frame_on_a_pressure_sensor_is_a_unit_mismatch() -> None:
    assert check(r(1234.5, unit="m3"), PT) == ValidationReason.UNIT_MISMATCH


def test_sensor_codes() -> None:
    code = sensorcode.parse("PT-D03-000123")
    assert (code.kind, code.zone, code.number, code.kind_name) == ("PT", "D03", 123, "pressure")
    assert str(code) == "PT-D03-000123"
    assert sensorcode.format_code(kind="flow", zone=None, number=7) == "FT-X-000007"
    assert sensorcode.format_code(kind="MT", zone="ZONE1234", number=999999) == "MT-ZONE1234-999999"
    for bad in [
        "pt-D03-000123",
        "PT-D03-123",
        "XX-D03-000123",
        "PT-ZONE12345-000001",
        "PT--000001",
        "PT-d03-000001",
        " PT-D03-000123",
        7,
    ]:
        assert not sensorcode.is_valid(bad)
    with pytest.raises(ValidationFailed):
        sensorcode.parse("PT-D03-12")
    with pytest.raises(ValidationFailed) as err:
        sensorcode.format_code(kind="bogus", zone="a b", number=-1)
    assert len(err.value.details) == 3


def test_catalogue_consistent() -> None:
    cat = catalogue.load()
    assert set(cat.kinds) == set(sensorcode.KINDS)
    assert cat.kind("pressure").unit == "m" and cat.kind("FT").unit == "L/s"
    assert cat.convert(100, unit="kPa", kind="PT") == pytest.approx(10.197162)
    assert cat.convert(3.6, unit="m3/h", kind="flow") == pytest.approx(1.0)
    assert cat.convert(1, unit="bar", kind="FT") is None
    bits = cat.status_bits("nb-valve-meter-a")
    assert bits is not None and bits.valve == 8 and dict(bits.flags)["magnetic_attack"] == 3
    assert cat.models["cjt188-2018"].di_order == "1F90"
    assert cat.status_bits("waternet-wn1") is None and cat.status_bits("nope") is None


def test_catalogue_refuses_bad_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from waternet.errors import ConfigError

    with pytest.raises(ConfigError):
        catalogue.load(tmp_path)
    src = catalogue.sensors_dir()
    (tmp_path / "meter_models.json").write_text((src / "meter_models.json").read_text())
    kinds = (src / "kinds.json").read_text().replace('"max": 14.0', '"max": -1.0')
    (tmp_path / "kinds.json").write_text(kinds)
    with pytest.raises(ConfigError):
        catalogue.load(tmp_path)
