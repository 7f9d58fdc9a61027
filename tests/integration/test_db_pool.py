"""The PostgreSQL pool: its size from the settings, the most recently used connection handed out
first, and a connection that sat idle pinged and replaced if the server dropped it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pathway.store import db


def test_a_dropped_idle_connection_is_replaced_not_handed_out(pg_url, monkeypatch):
    engine = db.make_engine(pg_url)
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with admin.connect() as conn:  # the server drops the pooled connection while it is idle
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_in_steady_use_is_not_pinged(pg_url):
    engine = db.make_engine(pg_url)
    pings = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda c: pings.append(1) or original(c)
    try:
        for _ in range(5):
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        assert pings == []
    finally:
        engine.dispose()


def test_the_pool_size_comes_from_the_settings(pg_url, monkeypatch):
    from pathway import Engine
    from pathway.settings import load_settings

    monkeypatch.setenv("PATHWAY_DATABASE_POOL_SIZE", "24")
    assert load_settings().database_pool_size == 24  # the environment, as for the database's URL
    engine = Engine(pg_url, settings=load_settings(database_pool_size=3), migrate=False)
    try:
        assert engine.db.pool.size() == 3
    finally:
        engine.dispose()


def test_the_pool_size_in_the_councils_file_gives_way_to_the_environment(tmp_path, monkeypatch):
    from pathway.settings import load_settings

    toml = tmp_path / "pathway.toml"
    toml.write_text("[database]\npool_size = 5\n")
    monkeypatch.delenv("PATHWAY_DATABASE_POOL_SIZE", raising=False)
    assert load_settings(toml).database_pool_size == 5
    monkeypatch.setenv("PATHWAY_DATABASE_POOL_SIZE", "12")
    assert load_settings(toml).database_pool_size == 12


def test_a_pool_size_below_one_is_refused_with_what_is_allowed():
    import pydantic

    from pathway.settings import load_settings

    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 1"):
        load_settings(database_pool_size=0)


def test_the_connection_handed_out_is_the_one_most_recently_returned(pg_url):
    """A few connections stay in use (warm, their statements prepared) rather than all in turn."""
    engine = db.make_engine(pg_url)
    try:
        first, second = engine.connect(), engine.connect()
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in (first, second)]
        first.close()  # back to the pool first
        second.close()  # and this one last: handed out next (a FIFO pool would hand out first's)
        with engine.connect() as again:
            assert again.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pids[1] != pids[0]
    finally:
        engine.dispose()
