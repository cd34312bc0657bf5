from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.errors import NotFound, ValidationFailed
from waternet.network.model import (
    CUSTOMER_CLASSES,
    DMA,
    BoundaryMeter,
    Customer,
    IsolationValve,
    Link,
    NetworkModel,
    Node,
    SensorSite,
    element_from_dict,
    element_to_dict,
    sensor_code,
)

from .conftest import tiny_model


def test_round_trip_through_json(demo_small: NetworkModel) -> None:
    doc = json.loads(json.dumps(demo_small.to_dict()))
    back = NetworkModel.from_dict(doc)
    assert back == demo_small
    assert back.to_dict() == doc


def test_rows_round_trip_per_element() -> None:
    m = tiny_model()
    for section in ("nodes", "links", "valves", "hydrants", "customers", "dmas", "sensors"):
        for e in getattr(m, section):
            row = json.loads(json.dumps(element_to_dict(e)))
            assert element_from_dict(type(e), row) == e
    assert element_to_dict(m.customers[1])["class"] == "hospital"


def test_unknown_fields_and_formats_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        element_from_dict(Node, {"id": "J1", "colour": "red"})
    with pytest.raises(ValidationFailed):
        element_from_dict(Link, {"id": "P1"})  # start/end missing
    with pytest.raises(ValidationFailed):
        NetworkModel.from_dict({"format": "other/9", "name": "x", "crs": "EPSG:32650"})


def test_lookups_and_derived_flags() -> None:
    m = tiny_model()
    assert m.node("J1").kind == "junction"
    with pytest.raises(NotFound):
        m.link("nope")
    assert [n.id for n in m.sources] == ["R1"]
    assert m.customers[1].critical and not m.customers[0].critical
    assert Link(id="a", start="x", end="y", kind="pump").oneway
    assert Link(id="a", start="x", end="y", kind="valve", valve_type="PRV").oneway
    assert not Link(id="a", start="x", end="y", kind="valve", valve_type="TCV").oneway
    assert Link(id="a", start="x", end="y", check_valve=True).oneway
    assert Link(id="a", start="x", end="y", status="closed").closed
    assert not Link(id="a", start="x", end="y", kind="pump", status="closed").closed
    # the index follows appends
    m.nodes.append(Node(id="J99"))
    assert m.node("J99").id == "J99"


def test_sensor_code() -> None:
    assert sensor_code("PT", "D03", 123) == "PT-D03-000123"
    assert sensor_code("MT", None, 104512) == "MT-X-104512"
    for bad in (("XX", "D01", 1), ("PT", "d01", 1), ("PT", "D01", 1_000_000)):
        with pytest.raises(ValueError):
            sensor_code(*bad)


ids = st.text(alphabet="ABCJPV0123456789-_", min_size=1, max_size=8)
coords = st.floats(min_value=-179, max_value=179, allow_nan=False)
elements = st.one_of(
    st.builds(
        Node,
        id=ids,
        kind=st.sampled_from(["junction", "reservoir", "tank"]),
        lon=coords,
        lat=st.floats(-80, 80),
        x=coords,
        y=coords,
        attrs=st.dictionaries(st.sampled_from(["a", "b"]), st.integers()),
    ),
    st.builds(
        Link,
        id=ids,
        start=ids,
        end=ids,
        length_m=st.floats(0, 1e4),
        vertices=st.lists(st.tuples(coords, coords), max_size=3),
        vertices_xy=st.lists(st.tuples(coords, coords), max_size=3),
    ),
    st.builds(
        IsolationValve,
        id=ids,
        link=ids,
        node=ids,
        diameter_mm=st.none() | st.floats(1, 2000),
        operable=st.booleans(),
    ),
    st.builds(
        Customer,
        account=ids,
        customer_class=st.sampled_from(CUSTOMER_CLASSES),
        node=st.none() | ids,
        link=st.none() | ids,
        address=st.text(max_size=20),
    ),
    st.builds(
        DMA,
        code=ids,
        boundary_meters=st.lists(
            st.builds(
                BoundaryMeter, link=ids, inflow=st.sampled_from([1, -1]), sensor=st.none() | ids
            ),
            max_size=3,
        ),
    ),
    st.builds(
        SensorSite,
        code=ids,
        kind=st.sampled_from(["PT", "FT", "MT"]),
        node=st.none() | ids,
        dma=st.none() | ids,
    ),
)


@settings(max_examples=60, deadline=None)
@given(elements)
def test_any_element_round_trips_through_json(e: object) -> None:
    row = json.loads(json.dumps(element_to_dict(e)))
    assert element_from_dict(type(e), row) == e
