"""pathway.db.DriverStatement: a SQLAlchemy statement run by psycopg itself gives SQLAlchemy's rows."""

import datetime as dt

import psycopg
import sqlalchemy as sa
from conftest import empty_tables

from pathway.db import DriverStatement, make_engine
from pathway.services import TEAM


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
