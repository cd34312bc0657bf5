from __future__ import annotations

import pytest

from waternet.errors import ValidationFailed
from waternet.network.model import Customer, Hydrant, IsolationValve, Link, Node, SensorSite
from waternet.network.validation import MAX_LISTED, ValidationReport, validate_model

from .conftest import tiny_model


def codes(report: ValidationReport) -> set[tuple[str, str, str]]:
    return {(i.severity, i.code, i.element) for i in report.issues}


def test_tiny_model_is_valid() -> None:
    report = validate_model(tiny_model())
    assert report.ok and report.issues == []


def test_every_problem_is_listed_not_only_the_first() -> None:
    m = tiny_model()
    m.nodes.append(Node(id="J1", lon=m.nodes[0].lon, lat=m.nodes[0].lat, x=0.0, y=0.0))
    m.nodes.append(Node(id="J9"))  # no coordinates, and isolated
    m.links.append(Link(id="P2", start="J3", end="J4", length_m=5.0))  # duplicate id
    m.links.append(Link(id="P8", start="J2", end="J2", length_m=5.0))  # self loop
    m.links.append(Link(id="P9", start="J3", end="JX", length_m=0.0))  # unknown node, zero len
    m.valves.append(IsolationValve(id="V3", link="PX", node="J1"))  # dangling valve
    m.valves.append(IsolationValve(id="V4", link="P3", node="J1"))  # node not on link
    m.valves.append(IsolationValve(id="V1", link="P3", node="J2"))  # duplicate id
    m.hydrants.append(Hydrant(id="H2", node="JX"))
    m.customers.append(Customer(account="A3", node="JX"))
    m.customers.append(Customer(account="A4"))
    m.customers.append(Customer(account="A1", node="J1", customer_class="palace"))
    m.sensors.append(SensorSite(code="PT-D01-12", kind="PT", node="J1"))
    m.sensors.append(SensorSite(code="FT-D09-000002", kind="FT", link="PX", dma="D09"))
    m.reindex()
    report = validate_model(m)
    expected = {
        ("error", "duplicate_id", "J1"),
        ("error", "missing_coordinates", "J9"),
        ("error", "duplicate_id", "P2"),
        ("error", "self_loop", "P8"),
        ("error", "unknown_node", "P9"),
        ("error", "zero_length", "P9"),
        ("error", "unknown_link", "V3"),
        ("error", "valve_not_at_link_end", "V4"),
        ("error", "duplicate_id", "V1"),
        ("error", "unknown_node", "H2"),
        ("error", "unknown_node", "A3"),
        ("error", "unattached", "A4"),
        ("error", "duplicate_id", "A1"),
        ("error", "bad_value", "A1"),
        ("error", "bad_sensor_code", "PT-D01-12"),
        ("error", "unknown_link", "FT-D09-000002"),
        ("error", "unknown_dma", "FT-D09-000002"),
        ("warning", "unsupplied_component", "J9"),
    }
    assert expected <= codes(report)
    assert not report.ok
    with pytest.raises(ValidationFailed) as exc:
        report.raise_if_errors()
    listed = {(d["severity"], d["code"], d["element"]) for d in exc.value.details}
    assert expected <= listed


def test_unsupplied_component_is_a_warning_and_no_source_an_error() -> None:
    m = tiny_model()
    m.nodes += [
        Node(id="K1", lon=117.0, lat=31.0, x=1.0, y=1.0),
        Node(id="K2", lon=117.0, lat=31.0, x=2.0, y=2.0),
    ]
    m.links.append(Link(id="Q1", start="K1", end="K2", length_m=3.0, diameter_m=0.1))
    m.reindex()
    report = validate_model(m)
    assert report.ok
    assert codes(report) == {("warning", "unsupplied_component", "K1")}
    m.nodes = [n for n in m.nodes if not n.is_source]
    m.links = [lk for lk in m.links if lk.start != "R1"]
    m.dmas[0].boundary_meters = []
    m.sensors = m.sensors[:1]
    m.reindex()
    report = validate_model(m)
    assert ("error", "no_source", "tiny") in codes(report)


def test_sensor_zone_mismatch_and_dma_code_rules() -> None:
    m = tiny_model()
    m.sensors.append(SensorSite(code="PT-X-000009", kind="PT", node="J1", dma="D01"))
    m.sensors.append(SensorSite(code="CL-D01-000001", kind="PT", node="J1", dma="D01"))
    m.dmas[0].code = "d1"
    m.reindex()
    got = codes(validate_model(m))
    assert ("warning", "sensor_zone_mismatch", "PT-X-000009") in got
    assert ("error", "bad_sensor_code", "CL-D01-000001") in got
    assert ("error", "bad_dma_code", "d1") in got
    assert ("error", "unknown_dma", "J1") in got


def test_report_caps_listing_but_keeps_counting() -> None:
    rep = ValidationReport()
    for i in range(MAX_LISTED + 5):
        rep.error("zero_length", f"P{i}", "x")
    assert len(rep.issues) == MAX_LISTED
    assert rep.codes()["zero_length"] == MAX_LISTED + 5
    assert not rep.ok
    back = ValidationReport.from_dict(rep.to_dict())
    assert back.codes() == rep.codes() and not back.ok


def test_customer_needs_exactly_one_attachment() -> None:
    m = tiny_model()
    m.customers.append(Customer(account="A9", node="J2", link="P2"))
    m.reindex()
    assert ("error", "unattached", "A9") in codes(validate_model(m))
