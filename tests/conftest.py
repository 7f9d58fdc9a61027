"""Fixtures shared by every layer of tests: real databases (SQLite and PostgreSQL), real Redis, a clock.

PostgreSQL and Redis tests skip with a reason on a laptop without them, and fail instead when
PATHWAY_REQUIRE_SERVICES=1 (as CI sets it), so a missing service can never pass silently.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa

from pathway import Engine
from pathway.settings import Settings
from pathway.store.db import make_engine, upgrade

REQUIRE_SERVICES = os.environ.get("PATHWAY_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("PATHWAY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PATHWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def service_missing(what: str, why: str):
    message = f"{what} is not reachable ({why}); start it or set the URL, see README 'Tests'"
    if REQUIRE_SERVICES:
        pytest.fail(f"PATHWAY_REQUIRE_SERVICES=1 and {message}", pytrace=False)
    pytest.skip(message)


class Clock:
    """A settable clock, so waits in tests are counted from known instants."""

    def __init__(self, at: dt.datetime = START):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def set(self, value: str | dt.datetime) -> None:
        self.at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if self.at.tzinfo is None:
            self.at = self.at.replace(tzinfo=dt.UTC)

    def advance(self, **delta) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture(scope="session")
def pg_url():
    """A throw-away PostgreSQL database for this test session (and xdist worker), migrated once."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        admin.dispose()
        service_missing("PostgreSQL", f"{PG_ADMIN_URL}: {type(exc).__name__}")
    name = f"pathway_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        names = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
        if names:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """The same test on the embedded SQLite default and on PostgreSQL, each starting empty."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pathway.db'}"
    url = request.getfixturevalue("pg_url")
    empty_tables(url)
    return url


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settings():
    return Settings(_env_file=None)


@pytest.fixture
def engine(db_url, clock, settings):
    eng = Engine(db_url, settings=settings, clock=clock, actor="test")
    yield eng
    eng.dispose()


@pytest.fixture
def council(engine):
    """A team with two workers, the smallest council the pathway runs in."""
    engine.create_team(key="north", name="North")
    engine.create_team(key="south", name="South")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=3)
    engine.create_worker(key="ben", name="Ben", team="north")
    engine.create_worker(key="cara", name="Cara", team="south")
    return engine


@pytest.fixture(scope="session")
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        service_missing("Redis", f"{REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def pg(pg_url):
    """The session's PostgreSQL database, emptied: for tests that run real workers (PostgreSQL only)."""
    empty_tables(pg_url)
    return pg_url


@pytest.fixture
def queue(redis_url):
    """A Celery queue of this test's own on the test Redis database; only its keys are removed afterwards."""
    import redis

    name = f"pathway-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{name}*"):  # the queue and its bindings: this test's keys only
        client.delete(key)
    for member in client.smembers("_kombu.binding.celery.pidbox"):
        if name.encode() in member:
            client.srem("_kombu.binding.celery.pidbox", member)
    client.close()
