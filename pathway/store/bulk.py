"""Bulk writes and the reads around them, for the history import: many rows at once, in one unit of work.

The SQLite form (:class:`Bulk`) inserts with executemany; the PostgreSQL form (:class:`PostgresBulk`)
writes with binary COPY through psycopg, which sends times and dates as PostgreSQL holds them instead
of rendering them as text (most of what a text COPY costs the client).
"""

from __future__ import annotations

import collections
import dataclasses
import operator
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.errors import Conflict
from pathway.store.tables import EPISODE, EPISODE_REF, EVENT, TEAM, WORKER

# SQLite caps the parameters of one statement; the IN lists are read in slices of this many.
SLICE = 5000
# Episode ids taken from PostgreSQL's sequence at a time, at most (unused ones are a gap, as after a rollback).
ID_BLOCK = 100_000
STORED_EVENT = (EVENT.c.episode_id, EVENT.c.seq, EVENT.c.trigger, EVENT.c.occurred_at, EVENT.c.worker,
                EVENT.c.outcome, EVENT.c.note, EVENT.c.data)
# An imported episode's row moves on only from the version the import read.
GUARDED_UPDATE = EPISODE.update().where(EPISODE.c.id == sa.bindparam("b_id"),
                                        EPISODE.c.version == sa.bindparam("b_version"))


@dataclasses.dataclass(slots=True)
class StoredEpisode:
    """An episode already imported: its id and its log, oldest first."""

    episode_id: int
    events: list  # rows with the STORED_EVENT columns, by name

    @property
    def version(self) -> int:
        return len(self.events)


class Bulk:
    """The history import's reads and writes on one connection (SQLite; the general form)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def teams(self) -> set[str]:
        return set(self.conn.execute(sa.select(TEAM.c.key)).scalars())

    def worker_teams(self) -> dict[str, str]:
        """Each worker's team, by the worker's key."""
        return dict(self.conn.execute(sa.select(WORKER.c.key, WORKER.c.team)).all())

    def any_imported(self) -> bool:
        return self.conn.execute(sa.select(EPISODE_REF.c.ref).limit(1)).first() is not None

    def imported(self, refs: list[str]) -> dict[str, StoredEpisode]:
        """The episodes already imported under these references, with their logs."""
        found: dict[str, int] = {}
        for part in _slices(refs):
            found.update(self.conn.execute(sa.select(EPISODE_REF.c.ref, EPISODE_REF.c.episode_id)
                                           .where(EPISODE_REF.c.ref.in_(part))).all())
        if not found:
            return {}
        logs: dict[int, list] = {i: [] for i in found.values()}
        for part in _slices(list(logs)):
            q = sa.select(*STORED_EVENT).where(EVENT.c.episode_id.in_(part)).order_by(EVENT.c.episode_id, EVENT.c.seq)
            for e in self.conn.execute(q).mappings().all():  # all at once: a fetch per row is slow on psycopg
                logs[e["episode_id"]].append(e)
        return {ref: StoredEpisode(i, logs[i]) for ref, i in found.items()}

    def new_ids(self, n: int) -> list[int]:
        """``n`` episode ids of this unit of work's own. SQLite: the unit holds the write lock (BEGIN
        IMMEDIATE), so the ids after the highest are free until it ends."""
        if n == 0:
            return []
        top = self.conn.execute(sa.select(sa.func.max(EPISODE.c.id))).scalar() or 0
        return list(range(top + 1, top + 1 + n))

    def reserve_ids(self, n: int) -> None:
        """A hint: about ``n`` new episodes are coming (the PostgreSQL form takes their ids at once)."""

    def finish(self) -> None:
        """Wait for every write asked of this part (before the unit of work commits or rolls back)."""

    def write(self, episodes: list[dict], refs: list[dict], events: list[dict]) -> None:
        """New episodes, their references, and events (of new and of stored episodes), in that order."""
        try:
            for table, rows in ((EPISODE, episodes), (EPISODE_REF, refs), (EVENT, events)):
                if rows:
                    self.insert(table, rows)
        except sa.exc.IntegrityError as exc:
            raise Conflict("another import wrote some of these episodes at the same time; nothing was "
                           "written by this one, run it again") from exc

    def insert(self, table: sa.Table, rows: list[dict]) -> None:
        self.conn.execute(table.insert(), rows)

    def update_episodes(self, rows: list[dict]) -> int:
        """Stored episodes moved on (``b_id`` from ``b_version``, with the new columns); how many were
        still at their version (the others were changed meanwhile, and are left as they are)."""
        if not rows:
            return 0
        names = [n for n in rows[0] if not n.startswith("b_")]
        return self.conn.execute(GUARDED_UPDATE.values({n: sa.bindparam(n) for n in names}), rows).rowcount


COPY_COLUMNS: dict[str, dict[str, str]] = {}  # copy_types by table name, worked out once


class PostgresBulk(Bulk):
    """The same on PostgreSQL: ids from the episode sequence, and rows written by binary COPY.

    A write returns at once and runs on a thread of its own, on the same connection, while the
    caller reads and checks the next batch: the database's work on one batch (its indexes and
    foreign keys) overlaps the Python work on the next. Every other call on the part waits for
    that write first, so the connection is only ever used by one of them at a time.
    """

    def __init__(self, conn: Connection):
        super().__init__(conn)
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._ids: collections.deque[int] = collections.deque()
        self._expected = 0  # new episodes still to come, as reserve_ids was told

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # the write's own error, if it failed

    def finish(self) -> None:
        try:
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def write(self, episodes: list[dict], refs: list[dict], events: list[dict]) -> None:
        self._wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="pathway-copy")
        self._pending = self._writer.submit(super().write, episodes, refs, events)

    def teams(self) -> set[str]:
        self._wait()
        return super().teams()

    def worker_teams(self) -> dict[str, str]:
        self._wait()
        return super().worker_teams()

    def any_imported(self) -> bool:
        self._wait()
        return super().any_imported()

    def imported(self, refs: list[str]) -> dict[str, StoredEpisode]:
        self._wait()
        return super().imported(refs)

    def update_episodes(self, rows: list[dict]) -> int:
        self._wait()
        return super().update_episodes(rows)

    def reserve_ids(self, n: int) -> None:
        self._expected = n
        self._take_ids(0)

    def new_ids(self, n: int) -> list[int]:
        # Ids taken ahead, while no write runs, let the next batch be checked while this one is written.
        if len(self._ids) < n:
            self._take_ids(n)
        self._expected -= n
        return [self._ids.popleft() for _ in range(n)]

    def _take_ids(self, n: int) -> None:
        """At least ``n`` ids on hand, and as many of those expected as one block holds."""
        self._wait()
        more = max(n, min(self._expected, ID_BLOCK)) - len(self._ids)
        if more > 0:
            self._ids.extend(self.conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('episode', 'id')) FROM generate_series(1, %(n)s)",
                {"n": more}).scalars())

    def insert(self, table: sa.Table, rows: list[dict]) -> None:
        import psycopg  # only with PostgreSQL: an embedded (SQLite) install may not have it

        columns = list(rows[0])
        pick = operator.itemgetter(*columns)
        names = ", ".join(f'"{c}"' for c in columns)
        sql = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)'
        types = COPY_COLUMNS.get(table.name) or COPY_COLUMNS.setdefault(table.name, copy_types(table))
        try:
            with self.conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
                # Binary COPY needs each column's type; it then sends values as PostgreSQL holds them,
                # without rendering times and dates as text.
                copy.set_types([types[c] for c in columns])
                write = copy.write_row
                for row in map(pick, rows):
                    write(row)
        except psycopg.Error as exc:  # as SQLAlchemy's error, as a statement run through it would raise
            raise sa.exc.DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


# A column's type as PostgreSQL names it, and the type its values are sent as in a binary COPY.
COPY_TYPES = {"INTEGER": "int4", "BIGINT": "int8", "VARCHAR": "text", "TEXT": "text", "BOOLEAN": "bool",
              "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamptz", "JSON": "json"}


def copy_types(table: sa.Table) -> dict[str, str]:
    """Each column's type for a binary COPY into ``table``."""
    from sqlalchemy.dialects import postgresql

    pg = postgresql.dialect()
    return {c.name: COPY_TYPES[c.type.compile(dialect=pg).split("(")[0]] for c in table.c}


def _slices(items: list, size: int = SLICE) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
