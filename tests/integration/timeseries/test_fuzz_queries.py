"""Fuzzing the time-series query endpoints from the app's OpenAPI spec: never a 500; a refusal
is a 4xx with an error body. Bounded: 25 examples per operation, no deadline."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from tests.conftest import Api
from tests.integration.timeseries.helpers import add_sensor

PATHS = r"^/api/v1/(sensors/\{code\}/readings|latest|dmas|meters|customers|quality)"
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def test_query_endpoints_never_fail_with_a_server_error(api: Api) -> None:
    import psycopg

    with psycopg.connect(api.db_url) as conn:
        sid = add_sensor(conn, "FT-D1-000001", "FT", dma="D1")
        add_sensor(conn, "MT-D1-000001", "MT", dma="D1", meta='{"customer": "C1"}')
        conn.execute("INSERT INTO dma_boundary_meters VALUES ('D1', %s, 1)", (sid,))
        conn.commit()
    client: Any = api.client
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json()).include(
        path_regex=PATHS
    )
    auth = api.headers("analyst")
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 8
    for op in operations:
        strategy = st.one_of(
            op.as_strategy(GenerationMode.POSITIVE, headers=auth),
            op.as_strategy(GenerationMode.NEGATIVE, headers=auth),
        )
        fuzz(client, strategy, f"{op.method.upper()} {op.path}")


def fuzz(client: Any, strategy: st.SearchStrategy[Any], name: str) -> None:
    @FUZZ
    @given(case=strategy)
    def run(case: Any) -> None:
        kw = case.as_transport_kwargs(base_url="http://testserver")
        kw.pop("cookies", None)
        resp = client.request(**kw)
        assert resp.status_code < 500, f"{name}: {resp.status_code} {resp.text[:300]}"
        if resp.status_code != 200:
            assert resp.status_code in {400, 401, 403, 404, 422}, name
            body = resp.json()
            assert set(body) == {"error", "message", "details"}, f"{name}: {body}"
            assert all(isinstance(d.get("problem"), str) for d in body["details"]), body

    run()
