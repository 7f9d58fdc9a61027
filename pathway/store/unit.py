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

from pathway.store import (
    access,
    audits,
    bulk,
    cld,
    duty,
    episodes,
    progression,
    reports,
    scrutiny,
    sessions,
    snapshots,
    tokens,
    webhooks,
    workforce,
)
from pathway.store.db import statement_by_statement, unit_of_work

# name: (SQLite form, PostgreSQL form). The PostgreSQL forms are the fast paths (driver statements,
# one-statement writes, COPY); each has the SQLite form's methods and answers.
PARTS = {
    "episodes": (episodes.Episodes, episodes.PostgresEpisodes),
    "duty": (duty.Duty, duty.Duty),
    "reports": (reports.Reports, reports.PostgresReports),
    "cld": (cld.Cld, cld.Cld),
    "webhooks": (webhooks.Webhooks, webhooks.PostgresWebhooks),
    "snapshots": (snapshots.Snapshots, snapshots.PostgresSnapshots),
    "tokens": (tokens.Tokens, tokens.Tokens),
    "bulk": (bulk.Bulk, bulk.PostgresBulk),
    "progression": (progression.Progression, progression.Progression),
    "workforce": (workforce.Workforce, workforce.Workforce),
    "scrutiny": (scrutiny.Scrutiny, scrutiny.Scrutiny),
    "audits": (audits.Audits, audits.Audits),
    "access": (access.Access, access.Access),
    "sessions": (sessions.Sessions, sessions.Sessions),
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

    @contextlib.contextmanager
    def claim_unit(self) -> Iterator[Unit | ClaimUnit]:
        """The unit of work of a claim of the next one: on PostgreSQL a pooled connection's psycopg
        connection itself, one transaction of prepared statements (:class:`pathway.store.duty.PostgresClaim`);
        on SQLite a unit of work like any other. Either way ``uow.duty`` offers the claim's steps."""
        if not self.postgres:
            with self.unit() as uow:
                yield uow
            return
        raw = self.db.raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:  # psycopg sends BEGIN before the first statement
                yield ClaimUnit(duty.PostgresClaim(cur))
            # Also when nothing was written: a ROLLBACK makes psycopg drop the statements it prepared.
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()  # back to the pool


class Unit:
    """One unit of work: its connection, and the store's parts bound to it."""

    def __init__(self, conn: Connection, store: Store):
        self.conn = conn
        self.store = store

    @cached_property
    def episodes(self) -> episodes.Episodes:
        return self.store.parts["episodes"](self.conn)

    @cached_property
    def duty(self) -> duty.Duty:
        return self.store.parts["duty"](self.conn)

    @cached_property
    def reports(self) -> reports.Reports:
        return self.store.parts["reports"](self.conn)

    @cached_property
    def cld(self) -> cld.Cld:
        return self.store.parts["cld"](self.conn)

    @cached_property
    def webhooks(self) -> webhooks.Webhooks:
        return self.store.parts["webhooks"](self.conn)

    @cached_property
    def snapshots(self) -> snapshots.Snapshots:
        return self.store.parts["snapshots"](self.conn)

    @cached_property
    def tokens(self) -> tokens.Tokens:
        return self.store.parts["tokens"](self.conn)

    @cached_property
    def sessions(self) -> sessions.Sessions:
        return self.store.parts["sessions"](self.conn)

    @cached_property
    def bulk(self) -> bulk.Bulk:
        return self.store.parts["bulk"](self.conn)

    @cached_property
    def progression(self) -> progression.Progression:
        return self.store.parts["progression"](self.conn)

    @cached_property
    def workforce(self) -> workforce.Workforce:
        return self.store.parts["workforce"](self.conn)

    @cached_property
    def scrutiny(self) -> scrutiny.Scrutiny:
        return self.store.parts["scrutiny"](self.conn)

    @cached_property
    def audits(self) -> audits.Audits:
        return self.store.parts["audits"](self.conn)

    @cached_property
    def access(self) -> access.Access:
        return self.store.parts["access"](self.conn)

    def finish(self) -> None:
        """Wait for the writes still running in this unit (the bulk part's, on PostgreSQL), before it ends."""
        if "bulk" in self.__dict__:
            self.bulk.finish()


class ClaimUnit:
    """A claim's unit of work on PostgreSQL: only the claim's steps, on the driver's connection."""

    def __init__(self, claim: duty.PostgresClaim):
        self.duty = claim
