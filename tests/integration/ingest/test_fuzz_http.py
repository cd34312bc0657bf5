"""Fuzzing the HTTP ingest and sensor endpoints: never a 500; every bad input is refused with a
clear 4xx (a JSON error body) or quarantined (200, counted).

* schemathesis 4 generates positive and negative cases from the app's own OpenAPI spec for the
  ingest and sensor operations, sent through the app with a valid service token and the
  configured CTWing key / OneNET token;
* hypothesis POSTs raw bodies (bytes, arbitrary JSON, mutated real pushes) to the CTWing and
  OneNET callbacks.
Bounded: at most 50 examples per operation and body kind, no deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from tests.conftest import Api
from tests.support.ingest import counts, register
from waternet.config import reset_settings
from waternet.ingest.codecs import cjt188
from waternet.ingest.formats import onenet, platforms

TOKEN = "onenet-fuzz-token"
KEY = "ctwing-fuzz-key"
IMEI = "860000000000001"
METER = "MT-Z01-000001"
PATHS = r"^/api/v1/(ingest|sensors)"
REFUSALS = {400, 401, 403, 404, 405, 409, 413, 415, 422}
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    database=None,
)


@pytest.fixture
def fuzz_api(monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str]) -> Iterator[Api]:
    monkeypatch.setenv("WATERNET_ONENET_TOKEN", TOKEN)
    monkeypatch.setenv("WATERNET_CTWING_KEY", KEY)
    reset_settings()
    from fastapi.testclient import TestClient

    from waternet.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        api = Api(client, settings_env["WATERNET_DATABASE_URL"])
        register(api.db_url, [METER], imeis={METER: IMEI})
        yield api


def check(resp: Any, where: str) -> None:
    """No 5xx; a refusal is a known 4xx with an error body; a 200 push is accounted for."""
    assert resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code in REFUSALS:
        body = resp.json()
        assert set(body) == {"error", "message", "details"}, f"{where}: unclear refusal {body}"
    else:
        assert resp.status_code == 200, f"{where}: unexpected {resp.status_code} {resp.text[:200]}"


def send(api: Api, case: Any) -> Any:
    """A schemathesis case sent through the app's TestClient (lifespan already running)."""
    kw = case.as_transport_kwargs(base_url="http://testserver")
    kw.pop("cookies", None)
    if "data" in kw and isinstance(kw["data"], bytes | str):
        kw["content"] = kw.pop("data")
    return api.client.request(**kw)  # type: ignore[attr-defined]


def fuzz_operation(api: Api, strategy: st.SearchStrategy[Any], name: str) -> set[int]:
    statuses: set[int] = set()

    @FUZZ
    @given(case=strategy)
    def run(case: Any) -> None:
        resp = send(api, case)
        case.validate_response(resp, checks=[not_a_server_error])
        check(resp, name)
        statuses.add(resp.status_code)

    run()
    return statuses


def test_openapi_ingest_and_sensor_operations(fuzz_api: Api) -> None:
    client: Any = fuzz_api.client
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json()).include(
        path_regex=PATHS
    )
    auth = fuzz_api.headers("service")
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {
        "POST /api/v1/ingest/ctwing",
        "POST /api/v1/ingest/onenet",
        "GET /api/v1/ingest/onenet",
        "POST /api/v1/sensors",
    } <= names
    seen: dict[str, set[int]] = {}
    for op in operations:
        name = f"{op.method.upper()} {op.path}"
        query = {"key": KEY} if op.path.endswith("/ctwing") else None
        strategy = st.one_of(
            op.as_strategy(GenerationMode.POSITIVE, headers=auth, query=query),
            op.as_strategy(GenerationMode.NEGATIVE, headers=auth),
        )

        seen[name] = fuzz_operation(fuzz_api, strategy, name)
    # the valid key/token really reached the storage path (quarantined, answered 200)
    assert 200 in seen["POST /api/v1/ingest/ctwing"]
    assert 401 in seen["GET /api/v1/ingest/onenet"]  # random signatures are refused


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
        ),
        max_leaves=20,
    )


def _real_pushes() -> tuple[bytes, bytes]:
    now = datetime.now(UTC).replace(microsecond=0)
    frame = cjt188.encode_read_reply(address="00000000000001", volume_m3=12.5, meter_time=now)
    ct = platforms.push_body(platforms.ctwing_push(imei=IMEI, device_id="d1", frame=frame, ts=now))
    on = platforms.push_body(
        onenet.onenet_push(token=TOKEN, imei=IMEI, dev_id=1, frame=frame, ts=now, nonce="abc")
    )
    return ct, on


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def bodies(base: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        _json_values().map(lambda v: json.dumps(v).encode()),
        mutated(base),
        st.just(base),
    )


@pytest.mark.parametrize("platform", ["ctwing", "onenet"])
def test_raw_push_bodies_never_500(fuzz_api: Api, platform: str) -> None:
    client: Any = fuzz_api.client
    ct, on = _real_pushes()
    base = ct if platform == "ctwing" else on
    url = f"/api/v1/ingest/ctwing?key={KEY}" if platform == "ctwing" else "/api/v1/ingest/onenet"
    outcomes: dict[int, int] = {}
    seen: set[bytes] = set()

    @FUZZ
    @given(body=bodies(base))
    def run(body: bytes) -> None:
        resp = client.post(url, content=body)
        check(resp, f"{platform} {body[:80]!r}")
        outcomes[resp.status_code] = outcomes.get(resp.status_code, 0) + 1
        if resp.status_code == 200:
            ack = resp.json()
            assert set(ack) == {"result", "stored", "duplicates", "quarantined", "spooled"}
            if not body.lstrip().startswith(b"{"):
                # not a JSON object: kept as evidence, once (a repeat is the same evidence)
                assert ack["quarantined"] == (0 if body in seen else 1)
            seen.add(body)
        else:
            assert platform == "onenet" and resp.status_code == 401  # bad signature only

    run()
    resp = client.post(url, content=base)  # the real push still works after all that
    assert resp.status_code == 200
    assert outcomes.get(200, 0) > 0
    c = counts(fuzz_api.db_url)
    assert c["stored"] <= 1  # one meter reading at most, however often it was replayed
    assert sum(c["quarantine"].values()) > 0


def test_nul_bytes_in_text_parameters_are_refused_not_500(fuzz_api: Api) -> None:
    """Found by the fuzzer: PostgreSQL text cannot hold NUL; the input is at fault (422)."""
    auth = fuzz_api.headers("service")
    resp = fuzz_api.client.get(  # type: ignore[attr-defined]
        "/api/v1/sensors", params={"dma": "D\x0001"}, headers=auth
    )
    check(resp, "GET /api/v1/sensors?dma=NUL")
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_input"


def test_malformed_sensor_csv_is_refused_not_500(fuzz_api: Api) -> None:
    """Found by the fuzzer: a bare carriage return inside an unquoted CSV field."""
    resp = fuzz_api.client.post(  # type: ignore[attr-defined]
        "/api/v1/sensors/csv",
        content="\u00be\u008c\r0\u00f2`\u00a8\x05Y".encode(),
        headers={**fuzz_api.headers("service"), "content-type": "text/csv"},
    )
    check(resp, "POST /api/v1/sensors/csv")
    assert resp.status_code == 422
