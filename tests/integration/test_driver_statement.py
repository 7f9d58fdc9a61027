"""pathway.store.db.DriverStatement: a SQLAlchemy statement run by psycopg itself gives SQLAlchemy's rows."""

import datetime as dt

import psycopg
import pytest
import sqlalchemy as sa
from conftest import empty_tables

from pathway.store.db import DriverStatement, make_engine
from pathway.store.tables import TEAM


def test_constants_are_written_in_and_named_parameters_stay_parameters(pg_url):
    empty_tables(pg_url)
    db = make_engine(pg_url)
    with db.begin() as conn:
        conn.execute(TEAM.insert(), [{"key": k, "name": n, "created_at": dt.datetime.now(dt.UTC), "created_by": "test"}
                                     for k, n in [("north", "50% North"), ("south", "South"), ("east", "East")]])
    statement = (sa.select(TEAM.c.key, sa.literal("a%b").label("odd"))
                 .where(TEAM.c.key.in_(["north", "south", "west"]), TEAM.c.name != sa.bindparam("name"),
                        TEAM.c.name.like("%North"))
                 .order_by(TEAM.c.key).limit(5))
    compiled = DriverStatement(statement)
    assert "%(name)s" in compiled.sql and "'south'" in compiled.sql and "LIMIT 5" in compiled.sql
    with db.connect() as conn:
        want = [tuple(r) for r in conn.execute(statement, {"name": "South"})]
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as raw:
        got = raw.execute(compiled.sql, {"name": "South"}).fetchall()
    assert got == want == [("north", "a%b")]
    db.dispose()


def test_first_runs_in_the_callers_transaction_and_gives_sqlalchemys_errors(db_url):
    """first() on PostgreSQL (psycopg) and SQLite (SQLAlchemy): the same row, JSON parameters
    passed as JSON, a write that the caller's rollback undoes, and a value the database refuses
    raised as SQLAlchemy's DataError (which the API turns into a 422)."""
    from pathway import Engine
    from pathway.store.tables import EPISODE, OUTBOX

    engine = Engine(db_url)
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    insert = DriverStatement(OUTBOX.insert().values(kind=sa.bindparam("kind"), payload=sa.bindparam(
        "payload", type_=OUTBOX.c.payload.type), created_at=sa.bindparam("at"), attempts=0).returning(OUTBOX.c.id))
    assert insert.json == ("payload",)
    with engine.db.connect() as conn:
        with conn.begin() as tx:
            (new_id,) = insert.first(conn, {"kind": "test", "payload": {"a": [1, "b"]}, "at": now})
            # The same transaction sees it, read back by SQLAlchemy.
            payload = sa.select(OUTBOX.c.payload).where(OUTBOX.c.id == new_id)
            assert conn.execute(payload).scalar_one() == {"a": [1, "b"]}
            tx.rollback()
        assert conn.execute(payload).first() is None
        read = DriverStatement(sa.select(EPISODE.c.id, EPISODE.c.stage).where(EPISODE.c.id == sa.bindparam("id")))
        assert read.keys == ("id", "stage")
        assert read.first(conn, {"id": 1}) is None
        if conn.dialect.name == "postgresql":  # SQLite's integers have no such limit
            with pytest.raises(sa.exc.DataError) as refused:
                read.first(conn, {"id": 2**40})
            assert isinstance(refused.value.orig, psycopg.errors.NumericValueOutOfRange)
        conn.rollback()
    engine.dispose()
