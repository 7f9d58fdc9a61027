"""Mistakes of the environment on the command line: one line, ``error: …`` and what to do, exit 2, and
nothing created; the schema changes only when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL

PATHWAY = [sys.executable, "-c", "from pathway.cli import main; main()"]


def run(args, tmp_path, **env):
    """``pathway ARGS`` in ``tmp_path`` with only these PATHWAY_* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAY_")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), os.getcwd()) if p)
    return subprocess.run([*PATHWAY, *args], cwd=tmp_path, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)


def one_line_error(result, *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


COMMANDS = [["report", "waits"], ["duty", "queue", "--team", "north"], ["team", "list"], ["staff", "list"],
            ["token", "create", "--role", "admin"], ["db", "upgrade"], ["serve"], ["track-waits"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_url_that_is_not_one_is_one_line_on_every_command(tmp_path, command):
    result = run(command, tmp_path, PATHWAY_DATABASE_URL="pathway.db")
    one_line_error(result, "'pathway.db' is not a database URL", "PATHWAY_DATABASE_URL", "sqlite:///pathway.db")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("url", "needles"), [
    ("postgresql+psycopg2://postgres@127.0.0.1/x", ("driver", "no module 'psycopg2'", "install")),
    ("mysql://someone@127.0.0.1/x", ("driver", "no module 'MySQLdb'")),
    ("postgresql://postgres@127.0.0.1:1/pathway", ("cannot reach", "127.0.0.1:1", "start the database server")),
    ("sqlite:////no/such/folder/pathway.db", ("cannot open the SQLite file", "folder")),
])
def test_a_driver_or_server_that_is_not_there_is_one_line(tmp_path, url, needles):
    one_line_error(run(["report", "waits"], tmp_path, PATHWAY_DATABASE_URL=url), *needles)


@pytest.fixture
def empty_pg(pg_url):
    """A PostgreSQL database with nothing in it (the server is there: pg_url proved it)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pathway_empty_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_a_database_that_does_not_exist_is_one_line(tmp_path, pg_url):
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/pathway_no_such_database"
    one_line_error(run(["report", "waits"], tmp_path, PATHWAY_DATABASE_URL=url),
                   'database "pathway_no_such_database" does not exist', "create it")


@pytest.mark.parametrize("command", [["report", "waits"], ["duty", "queue", "--team", "north"], ["team", "list"],
                                     ["token", "create", "--role", "admin"]], ids=lambda c: " ".join(c[:2]))
def test_a_database_without_the_schema_is_refused_and_left_untouched(tmp_path, empty_pg, command):
    result = run(command, tmp_path, PATHWAY_DATABASE_URL=empty_pg)
    one_line_error(result, "has no pathway schema; run pathway db upgrade")
    assert tables(empty_pg) == set()


def test_serve_with_migrations_off_is_refused_and_db_upgrade_is_what_to_do(tmp_path, empty_pg):
    result = run(["serve"], tmp_path, PATHWAY_DATABASE_URL=empty_pg, PATHWAY_MIGRATE_ON_START="false")
    one_line_error(result, "has no pathway schema; run pathway db upgrade")
    assert tables(empty_pg) == set()
    upgraded = run(["db", "upgrade"], tmp_path, PATHWAY_DATABASE_URL=empty_pg)
    assert upgraded.returncode == 0, upgraded.stderr
    assert {"episode", "event", "alembic_version"} <= tables(empty_pg)
    report = run(["report", "waits", "--format", "json"], tmp_path, PATHWAY_DATABASE_URL=empty_pg)
    assert report.returncode == 0 and report.stdout.strip().startswith("["), report.stderr


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "theirs.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE invoices (id integer)")
    engine.dispose()
    result = run(["report", "waits"], tmp_path, PATHWAY_DATABASE_URL=f"sqlite:///{path}")
    one_line_error(result, "has no pathway schema; run pathway db upgrade", "other tables")
    assert tables(f"sqlite:///{path}") == {"invoices"}


def test_the_embedded_default_makes_its_own_schema(tmp_path):
    result = run(["report", "waits", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "episode" in tables(f"sqlite:///{tmp_path / 'pathway.db'}")


@pytest.mark.parametrize("command", [["worker"], ["beat"], ["track-waits"]])
def test_a_broker_that_does_not_answer_is_one_line(tmp_path, command):
    result = run(command, tmp_path, PATHWAY_BROKER_URL="redis://127.0.0.1:1/0")
    one_line_error(result, "the broker redis://127.0.0.1:1/0")


@pytest.mark.parametrize("command", [["worker"], ["beat"]])
def test_a_command_that_needs_a_broker_says_so_when_none_is_set(tmp_path, command):
    one_line_error(run(command, tmp_path), "needs a broker", "PATHWAY_BROKER_URL")
