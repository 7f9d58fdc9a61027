"""The PostgreSQL pool pings a connection that sat idle, and replaces it if the server dropped it."""

from __future__ import annotations

import sqlalchemy as sa

from pathway import db


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
