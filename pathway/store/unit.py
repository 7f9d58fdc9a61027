"""The store of one engine and its units of work: the dialect is read once, when the store opens.

Each part of the store (episodes, duty, reports, …) is a small class over one connection, with a
SQLite form and a PostgreSQL form where their SQL differs; :data:`PARTS` pairs them, and a
:class:`Store` keeps the form for its database. A use case reaches a part through its
:class:`Unit`, bound to the unit's connection (``uow.episodes.load_state(42)``), and never asks
which database it is on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property

from sqlalchemy.engine import Connection, Engine

from pathway.store import bulk, episodes
from pathway.store.db import statement_by_statement, unit_of_work

# name: (SQLite form, PostgreSQL form). The PostgreSQL forms are the fast paths (driver statements,
# one-statement writes, COPY); each has the SQLite form's methods and answers.
PARTS = {
    "episodes": (episodes.Episodes, episodes.PostgresEpisodes),
    "bulk": (bulk.Bulk, bulk.PostgresBulk),
}


class Store:
    """The database of one engine, with the SQLite or PostgreSQL form of each part chosen once."""

    def __init__(self, db: Engine):
        self.db = db
        self.postgres = db.dialect.name == "postgresql"
        self.parts = {name: forms[self.postgres] for name, forms in PARTS.items()}

    @contextlib.contextmanager
    def unit(self, write: bool = True) -> Iterator[Unit]:
        """One transaction: committed when the block ends, rolled back (nothing written) if it raises."""
        with unit_of_work(self.db, write=write) as conn:
            uow = Unit(conn, self)
            try:
                yield uow
            finally:
                uow.finish()

    @contextlib.contextmanager
    def move_unit(self, *, locks: bool) -> Iterator[Unit]:
        """The unit of work of one move. On PostgreSQL a move writes with one statement that applies
        only from the version it read, so unless it ``locks`` a row that must stay locked until the
        move commits (an allocation locks its worker) it runs statement by statement: BEGIN and
        COMMIT would be two round trips of nothing. On SQLite a write takes the write lock up front."""
        if self.postgres and not locks:
            with statement_by_statement(self.db) as conn:
                yield Unit(conn, self)
        else:
            with self.unit() as uow:
                yield uow

    def dispose(self) -> None:
        self.db.dispose()


class Unit:
    """One unit of work: its connection, and the store's parts bound to it."""

    def __init__(self, conn: Connection, store: Store):
        self.conn = conn
        self.store = store

    @cached_property
    def episodes(self) -> episodes.Episodes:
        return self.store.parts["episodes"](self.conn)

    @cached_property
    def bulk(self) -> bulk.Bulk:
        return self.store.parts["bulk"](self.conn)

    def finish(self) -> None:
        """Wait for the writes still running in this unit (the bulk part's, on PostgreSQL), before it ends."""
        if "bulk" in self.__dict__:
            self.bulk.finish()
