"""One place for the database: connecting, units of work, and schema migrations."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, pool_size: int = 10, **kwargs) -> Engine:
    """A SQLAlchemy engine for ``url``; on PostgreSQL with a pool of ``pool_size`` connections."""
    url = normalise_url(url)
    # An error's text never carries the statement's values: they may hold a person's reference.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy's "begin" below decide how each transaction starts.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url and url != "sqlite://":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A write takes SQLite's write lock up front (BEGIN IMMEDIATE) so two writers queue on
            # the busy timeout instead of failing when a read lock cannot be upgraded.
            mode = "IMMEDIATE" if conn.get_execution_options().get("pathway_write", True) else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    kwargs.setdefault("max_overflow", 40)
    # The connection handed out is the one most recently returned: a few connections stay busy
    # (their backends warm, their prepared statements in use) and the rest sit idle, rather than
    # every request going round all of them in turn.
    kwargs.setdefault("pool_use_lifo", True)
    engine = sa.create_engine(url, pool_size=pool_size, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection that sat unused longer than this is pinged before it is handed out (a
# database restart or a firewall's idle timeout drops such connections, and the pool then opens a
# fresh one); a connection in steady use is not, which saves a round trip on every unit of work.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @sa.event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):
        record.info["pathway_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):
        since = record.info.pop("pathway_idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(exc)) from exc


class DriverStatement:
    """A SQLAlchemy statement compiled once for psycopg, for a hot path that talks to the driver
    itself (a claim, every move's read and write): its SQL text with ``%(name)s`` parameters.

    The constants SQLAlchemy binds as parameters (the values of an ``IN`` list, a ``LIMIT``, the
    ranks of a ``CASE``) are written into the text as literals instead: the planner then sees
    constants, as it would in hand-written SQL, and a prepared statement's generic plan can use them.
    """

    def __init__(self, statement):
        from sqlalchemy.dialects.postgresql.psycopg import dialect

        pg = dialect()
        self.statement = statement
        # The names of a query's columns, in order (a row is a tuple: dict(zip(keys, row))).
        self.keys = tuple(c.key for c in getattr(statement, "selected_columns", ()))
        compiled = statement.compile(dialect=pg)
        named = {name for name, bind in compiled.binds.items() if bind.required}
        # Parameters psycopg must be told are JSON (SQLAlchemy's JSON type does that for itself).
        self.json = tuple(name for name in named if isinstance(compiled.binds[name].type, sa.JSON))
        # Rendering the IN lists needs a value for every parameter: the named ones are left unset.
        expanded = compiled.construct_expanded_state(dict.fromkeys(named))
        sql = expanded.statement
        for name, value in expanded.parameters.items():
            if name not in named:
                literal = sa.literal(value).compile(dialect=pg, compile_kwargs={"literal_binds": True})
                sql = sql.replace(f"%({name})s", str(literal))
        self.sql = sql

    def params(self, values: dict) -> dict:
        """``values`` as psycopg takes them: the JSON ones wrapped."""
        if not self.json:
            return values
        from psycopg.types.json import Json

        return values | {name: Json(values[name]) for name in self.json}

    def first(self, conn: Connection, values: dict):
        """The first row (a tuple, in the statement's column order) or None, in ``conn``'s transaction.

        On PostgreSQL psycopg runs it on the connection's own driver connection, prepared the
        first time that connection runs it, without SQLAlchemy's execution (most of a short
        statement's Python time); its errors come out as SQLAlchemy's (IntegrityError, DataError…),
        as the statement's would. On other databases SQLAlchemy runs the statement itself.
        """
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement, values).first()
        with conn.connection.driver_connection.cursor() as cur:
            return self.fetch(cur, values)

    def all(self, conn: Connection, values: dict) -> list:
        """Every row (tuples, in the statement's column order), as :meth:`first` runs it: prepared through
        psycopg on PostgreSQL, through SQLAlchemy elsewhere. For a short read whose rows the caller turns
        into the domain's objects itself (a page of episodes), SQLAlchemy's row processing is most of the
        time it takes."""
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement, values).all()
        import psycopg

        with conn.connection.driver_connection.cursor() as cur:
            try:
                cur.execute(self.sql, self.params(values), prepare=True)
            except psycopg.Error as exc:
                raise sa.exc.DBAPIError.instance(self.sql, values, exc, psycopg.Error, hide_parameters=True) from exc
            return cur.fetchall()

    def fetch(self, cur, values: dict):
        """Run on a psycopg cursor, prepared the first time its connection runs it; the first row or
        None. Its errors come out as SQLAlchemy's, as the statement's would through SQLAlchemy."""
        import psycopg

        try:
            cur.execute(self.sql, self.params(values), prepare=True)
        except psycopg.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, values, exc, psycopg.Error, hide_parameters=True) from exc
        return cur.fetchone()


# Keyed by the statement's id: safe, because each DriverStatement keeps its statement alive, so
# no other object can take that id while the entry exists.
_DRIVEN: dict[int, DriverStatement] = {}
_DRIVEN_LOCK = threading.Lock()


def driven(statement) -> DriverStatement:
    """``statement`` compiled for the driver, once per process (``statement`` is built once, at
    import, as every hot path's statements are)."""
    found = _DRIVEN.get(id(statement))
    if found is None:
        with _DRIVEN_LOCK:  # threads may ask at once: each gets a whole answer, one is kept
            found = _DRIVEN.setdefault(id(statement), DriverStatement(statement))
    return found


@contextlib.contextmanager
def unit_of_work(engine: Engine, write: bool = True) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back (nothing written) if it raises."""
    with engine.connect() as conn:
        conn = conn.execution_options(pathway_write=write)
        with conn.begin():
            yield conn


@contextlib.contextmanager
def statement_by_statement(engine: Engine) -> Iterator[Connection]:
    """A connection on which every statement is its own transaction (autocommit): for work whose
    only write is one statement that checks what it depends on itself, such as a move (which applies
    only from the version it read). On PostgreSQL that saves the BEGIN and COMMIT round trips."""
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to date with the migrations (safe to run again)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_heads(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def script_heads(engine: Engine) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def table_names(engine: Engine) -> set[str]:
    """The tables the database has (to tell an empty database from a foreign one)."""
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())
