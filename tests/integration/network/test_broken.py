"""A broken layer set is refused with every problem listed; the database is unchanged."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import Api
from tests.integration.network.helpers import (
    broken_layers,
    library_inp,
    missing_problems,
    row_counts,
)
from waternet.cli import app, register_commands, report_error
from waternet.errors import ValidationFailed
from waternet.network import service

runner = CliRunner()
register_commands()


def test_service_lists_every_problem_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    service.import_into_db(db_url, path=library_inp("Net1.inp"))  # something to keep
    before = row_counts(db_url)
    folder = broken_layers(tmp_path / "broken")
    with pytest.raises(ValidationFailed) as err:
        service.import_into_db(db_url, path=folder)
    assert missing_problems(err.value.details) == []
    assert row_counts(db_url) == before
    assert service.load_active(db_url).name != "broken"


def test_cli_prints_every_problem_exit_2(settings_env: dict[str, str], tmp_path: Path) -> None:
    url = settings_env["WATERNET_DATABASE_URL"]
    before = row_counts(url)
    folder = broken_layers(tmp_path / "broken")
    r = runner.invoke(app, ["network", "import", str(folder)])
    assert isinstance(r.exception, ValidationFailed)  # cli.main prints it and exits 2
    assert report_error(r.exception) == 2
    assert missing_problems(r.exception.details) == []
    assert row_counts(url) == before


def test_api_upload_422_with_every_problem(api: Api, tmp_path: Path) -> None:
    folder = broken_layers(tmp_path / "broken")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"broken/{f.name}")
    before = row_counts(api.db_url)
    r = api.client.post(  # type: ignore[attr-defined]
        "/api/v1/network/versions",
        headers=api.headers("analyst"),
        files={"file": ("broken.zip", buf.getvalue(), "application/zip")},
    )
    assert r.status_code == 422, r.text
    assert missing_problems(r.json()["details"]) == []
    assert row_counts(api.db_url) == before
    # the same folder repaired imports (the failure was the data, not the route)
    good = tmp_path / "good"
    from waternet.demo.city import write_demo_city

    write_demo_city("small", good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in good.iterdir():
            zf.write(f, f.name)
    r = api.client.post(  # type: ignore[attr-defined]
        "/api/v1/network/versions",
        headers=api.headers("analyst"),
        files={"file": ("city.zip", buf.getvalue(), "application/zip")},
        data={"name": "city"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["report"]["ok"] is True
    assert row_counts(api.db_url)["network_versions"] == before["network_versions"] + 1
