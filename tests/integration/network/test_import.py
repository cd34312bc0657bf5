"""Import of WNTR's shipped networks (service and CLI), storage round trip, versions."""

from __future__ import annotations

from pathlib import Path

import pytest
import wntr
from typer.testing import CliRunner

from tests.integration.network.helpers import library_inp, row_counts
from waternet.cli import app, register_commands
from waternet.demo.city import build_demo_city
from waternet.errors import ValidationFailed
from waternet.network import repository, service

runner = CliRunner()
register_commands()


def wntr_counts(name: str) -> tuple[int, int]:
    wn = wntr.network.WaterNetworkModel(str(library_inp(name)))
    return wn.num_nodes, wn.num_links


@pytest.mark.parametrize("name", ["Net3.inp", "ky10.inp", "Net6.inp", "ky4.inp"])
def test_wntr_networks_import_with_wntr_counts(db_url: str, name: str) -> None:
    vid, report = service.import_into_db(db_url, path=library_inp(name), name=name)
    assert report.ok
    net = service.load_version(db_url, vid)
    assert (len(net.model.nodes), len(net.model.links)) == wntr_counts(name)
    row = service.get_version(db_url, vid)
    assert row["active"] is True
    assert row["stats"]["counts"]["nodes"] == len(net.model.nodes)
    assert row["source"] == f"inp:{name}"
    assert row["n_warnings"] == len(report.warnings) == len(row["warnings"])
    assert net.topology.n_links == len(net.model.links)


def test_cli_imports_net1_and_shows_it(settings_env: dict[str, str]) -> None:
    url = settings_env["WATERNET_DATABASE_URL"]
    r = runner.invoke(app, ["network", "import", str(library_inp("Net1.inp")), "--name", "net1"])
    assert r.exit_code == 0, r.output
    assert "network version 1" in r.output
    net = service.load_active(url)
    assert (len(net.model.nodes), len(net.model.links)) == wntr_counts("Net1.inp")
    assert net.name == "net1"
    r = runner.invoke(app, ["network", "info", "1"])
    assert r.exit_code == 0, r.output
    assert "[active]" in r.output and "net1" in r.output


def test_cli_refuses_missing_file_with_exit_2(settings_env: dict[str, str], tmp_path: Path) -> None:
    from waternet.cli import report_error
    from waternet.errors import WaternetError

    r = runner.invoke(app, ["network", "import", str(tmp_path / "nope.inp")])
    assert isinstance(r.exception, WaternetError)
    assert report_error(r.exception) == 2
    assert row_counts(settings_env["WATERNET_DATABASE_URL"])["network_versions"] == 0


def test_storage_round_trip_is_exact(db_url: str) -> None:
    model = build_demo_city("small")
    header, chunks = repository.encode_model(model, chunk_rows=400)
    assert len([c for c in chunks if c.section == "customers"]) == 4  # 1,500 in 400s
    assert repository.decode_model(header, [(c.section, c.body) for c in chunks]) == model
    vid, _ = service.import_model(db_url, model=model, source="demo-city:small")
    loaded = service.load_version(db_url, vid).model
    assert loaded == model
    assert loaded.summary() == model.summary()


def test_one_version_active_and_activation(db_url: str) -> None:
    a, _ = service.import_into_db(db_url, path=library_inp("Net1.inp"))
    b, _ = service.import_into_db(db_url, path=library_inp("Net3.inp"), activate=False)
    assert [(r["id"], r["active"]) for r in service.list_versions(db_url)] == [
        (a, True),
        (b, False),
    ]
    service.activate(db_url, b)
    assert [(r["id"], r["active"]) for r in service.list_versions(db_url)] == [
        (a, False),
        (b, True),
    ]
    from waternet.errors import NotFound

    with pytest.raises(NotFound):
        service.activate(db_url, 999)
    assert service.load_active(db_url).version_id == b


def test_cli_demo_city_writes_and_imports(settings_env: dict[str, str], tmp_path: Path) -> None:
    url = settings_env["WATERNET_DATABASE_URL"]
    r = runner.invoke(
        app, ["network", "demo-city", "--size", "small", "--out", str(tmp_path / "city")]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "city" / "pipes.geojson").is_file()
    net = service.load_active(url)  # a database is configured: imported by default
    assert net.name == "demo-small" and len(net.model.customers) == 1500
    r = runner.invoke(app, ["network", "demo-city", "--scale", "400", "--no-import"])
    assert r.exit_code == 0, r.output
    assert len(service.list_versions(url)) == 1
    r = runner.invoke(app, ["network", "demo-city", "--scale", "400"])
    assert r.exit_code == 0, r.output
    assert service.load_active(url).model.counts()["links"] == 400
    r = runner.invoke(app, ["network", "demo-city", "--size", "huge"])
    assert isinstance(r.exception, ValidationFailed)
