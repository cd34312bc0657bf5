"""The CLI against a real database."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

BIN = os.path.join(os.path.dirname(sys.executable), "waternet")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([BIN, *args], env=full, capture_output=True, text=True, timeout=120)


def test_db_info_reports_the_mode(settings_env: dict[str, str]) -> None:
    r = run("db-info", env=settings_env)
    assert r.returncode == 0, r.stderr
    url = settings_env["WATERNET_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        has_ts = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    assert has_ts is not None
    if has_ts[0]:
        assert "timescaledb:  2." in r.stdout
        assert "license apache" in r.stdout or "license timescale" in r.stdout
    else:
        assert "plain PostgreSQL partitioning" in r.stdout
    assert "revision:     0" in r.stdout


def test_users_add_and_bad_role(settings_env: dict[str, str]) -> None:
    env = {**settings_env, "WATERNET_NEW_PASSWORD": "correct-horse"}
    r = run("users", "add", "alice", "--role", "dispatcher", env=env)
    assert r.returncode == 0, r.stderr
    assert "alice (dispatcher)" in r.stdout
    r = run("users", "add", "bob", "--role", "pilot", env=env)
    assert r.returncode == 2
    assert "role: one of" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_setting_fails_at_start_naming_it(settings_env: dict[str, str]) -> None:
    r = run("db-info", env={**settings_env, "WATERNET_DATABASE_URL": "mysql://nope"})
    assert r.returncode == 2
    assert "WATERNET_DATABASE_URL" in r.stderr
    assert "Traceback" not in r.stderr


def test_migrate_is_idempotent(settings_env: dict[str, str]) -> None:
    r = run("migrate", env=settings_env)
    assert r.returncode == 0, r.stderr
    assert "database at revision" in r.stdout


def test_every_command_has_help() -> None:
    r = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for cmd in ("migrate", "serve", "demo", "db-info", "users"):
        assert cmd in r.stdout
        sub = subprocess.run([BIN, cmd, "--help"], capture_output=True, text=True, timeout=60)
        assert sub.returncode == 0, (cmd, sub.stderr)
