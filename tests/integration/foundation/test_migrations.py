"""Migrations up and down on every storage mode this server offers."""

from __future__ import annotations

import psycopg

from tests.support.services import PgServer
from waternet.db import migrate
from waternet.db.capabilities import probe

SCHEMA_SQL = """
SELECT 'col' AS k, table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'idx', tablename || ':' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'fn', proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
UNION ALL
SELECT 'con', conrelid::regclass::text || ':' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def schema(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute(SCHEMA_SQL).fetchall()]


def revisions() -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.script_location()))
    return [s.revision for s in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


def test_up_down_up_leaves_same_schema_on_every_mode(pg_server: PgServer) -> None:
    modes = pg_server.modes()
    assert "postgres" in modes
    for mode in modes:
        name = pg_server.create_db()
        url = pg_server.url(name)
        try:
            migrate.upgrade(url, storage_mode=mode)
            with psycopg.connect(url) as conn:
                recorded = conn.execute(
                    "SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'"
                ).fetchone()
                caps = probe(conn)
            assert recorded is not None
            expected = "postgres" if mode == "postgres" else caps.mode
            assert recorded[0] == expected
            first = schema(url)
            assert any(k == "col" and v.startswith("readings.ts:") for k, v in first)
            # step down one revision at a time, then all the way up again
            revs = revisions()
            for target in [*reversed(revs[:-1]), "base"]:
                migrate.downgrade(url, revision=target)
            assert migrate.current_revision(url) is None
            leftover = [v for k, v in schema(url) if k == "col" and not v.startswith("alembic_")]
            assert leftover == []
            migrate.upgrade(url, storage_mode=mode)
            assert schema(url) == first
            assert migrate.current_revision(url) == migrate.head_revision()
        finally:
            pg_server.drop_db(name)


def test_postgres_mode_partitions_move_rows_out_of_default(pg_server: PgServer) -> None:
    with pg_server.migrated_db("postgres") as url, psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO sensors (code, kind, unit) VALUES ('PT-X-000001', 'pressure', 'm')"
        )
        conn.execute(
            "INSERT INTO readings (sensor_id, ts, value) VALUES "
            "(1, '2020-01-02T03:00:00Z', 1.5), (1, '2020-01-02T23:59:59Z', 2.5), "
            "(1, '2020-01-03T00:00:00Z', 3.5)"
        )
        where = conn.execute(
            "SELECT tableoid::regclass::text, count(*) FROM readings GROUP BY 1"
        ).fetchall()
        assert where == [("readings_default", 3)]
        conn.execute("SELECT waternet_ensure_partitions('readings', '2020-01-02', '2020-01-02')")
        where = dict(
            conn.execute("SELECT tableoid::regclass::text, count(*) FROM readings GROUP BY 1")
        )
        assert where == {"readings_p20200102": 2, "readings_default": 1}
        dropped = conn.execute(
            "SELECT waternet_drop_partitions_before('readings', '2020-01-03')"
        ).fetchone()
        assert dropped == (1,)
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (1,)
