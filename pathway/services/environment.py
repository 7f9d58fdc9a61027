"""Mistakes of the environment rather than of an input, each as one :class:`pathway.errors.SetupError`
saying what is wrong and what to do: a database URL that is not one, a driver not installed, a
server that does not answer, a database that does not exist or has no pathway schema, a broker that
is down. The command line prints them as one line and exits 2; nothing is created on the way.

The schema changes only when asked (``pathway db upgrade``, and ``serve`` and ``worker`` at start
unless ``migrate_on_start`` is off). The one exception is an SQLite file that is new or already the
engine's: the embedded default creates its own schema, so ``pathway demo`` works on a bare laptop.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pathway.errors import SetupError
from pathway.store.db import current_heads, make_engine, script_heads, table_names, upgrade

# What to do about a database URL, said once for every message below.
URL_HINT = "set PATHWAY_DATABASE_URL (or [database] url in the config file)"
URL_FORMS = "sqlite:///pathway.db or postgresql://user@host:5432/name"
# The database drivers the engine supports, by the module a URL's scheme needs.
DRIVERS = {"psycopg": "pip install 'psycopg[binary]' (a dependency of pathway-engine: reinstall it)"}
UPGRADE = "run pathway db upgrade"


def shown(url) -> str:
    """A URL as it may be printed: without its password."""
    if isinstance(url, sa.engine.URL):
        return url.render_as_string(hide_password=True)
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: show it as given
        return str(url)


def open_database(url: str, pool_size: int) -> Engine:
    """The database engine for ``url``, or SetupError for a URL that is not one or a missing driver."""
    try:
        return make_engine(url, pool_size=pool_size)
    except Exception as exc:  # noqa: BLE001 - translated below, or raised as it was
        _raise_explained(exc, url)


def explain(exc: BaseException, url=None) -> BaseException:
    """``exc`` as a SetupError when it is a mistake of the environment; otherwise ``exc`` itself."""
    if isinstance(exc, SetupError):
        return exc
    where = shown(url) if url is not None else "the database"
    if isinstance(exc, sa.exc.ArgumentError):
        return SetupError(f"{where!r} is not a database URL; {URL_HINT} to one such as {URL_FORMS}")
    if isinstance(exc, sa.exc.NoSuchModuleError):
        scheme = str(url).split(":", 1)[0]
        return SetupError(f"{scheme!r} is not a database this engine runs on; {URL_HINT} to one such as {URL_FORMS}")
    if isinstance(exc, ModuleNotFoundError):
        fix = DRIVERS.get(exc.name or "", f"install the Python package that provides {exc.name!r}, or {URL_HINT} "
                                          f"to one such as {URL_FORMS}")
        return SetupError(f"the driver for {where} is not installed (no module {exc.name!r}); {fix}")
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return _connection(exc, where)
    return exc


def _raise_explained(exc: BaseException, url) -> None:
    problem = explain(exc, url)
    if problem is exc:
        raise exc
    raise problem from None


def _connection(exc: sa.exc.DBAPIError, where: str) -> SetupError:
    text = str(getattr(exc, "orig", exc) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    if "does not exist" in lowered and "database" in lowered:
        return SetupError(f"{where}: {first}; create it (createdb, or CREATE DATABASE) and {UPGRADE}, or {URL_HINT}")
    if "unable to open database file" in lowered:
        return SetupError(f"{where}: cannot open the SQLite file (does its folder exist and may this user write "
                          f"there?); {URL_HINT} to a file in a folder that exists")
    if "authentication failed" in lowered or "password" in lowered:
        return SetupError(f"{where}: the server refused the user ({first}); fix the user or password in "
                          "PATHWAY_DATABASE_URL")
    return SetupError(f"cannot reach {where} ({first}); start the database server, or {URL_HINT}")


def prepare_schema(db: Engine, migrate: bool | None) -> None:
    """Bring the schema up to date (``migrate`` True), leave it (False), or, for None, require it: an
    SQLite file that is new or already the engine's is brought up to date; any other database must
    have the pathway schema at this version already, or SetupError (and nothing is created)."""
    if migrate is False:
        return
    try:
        if migrate is True:
            upgrade(db)
            return
        tables = table_names(db)
        if db.dialect.name == "sqlite" and (not tables or "alembic_version" in tables):
            upgrade(db)
            return
        where = shown(db.url)
        if "alembic_version" not in tables:
            raise SetupError(f"{where} has no pathway schema; {UPGRADE}"
                             + (" (it holds other tables: is it the right database?)" if tables else ""))
        have, need = current_heads(db), script_heads(db)
        if have != need:
            raise SetupError(f"{where} has the pathway schema at {', '.join(sorted(have)) or 'none'} and this "
                             f"version needs {', '.join(sorted(need))}; {UPGRADE}")
    except Exception as exc:  # noqa: BLE001 - translated, or raised as it was
        _raise_explained(exc, db.url)


def require_broker(url: str | None, command: str) -> str:
    """The broker's URL for a command that needs one: SetupError when none is set or it does not answer."""
    from pathway.services.health import broker

    if url is None:
        raise SetupError(f"`pathway {command}` needs a broker: set PATHWAY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) "
                         "or [broker] url in the config file")
    if broker(url) != "ok":
        raise SetupError(f"the broker {shown(url)} does not answer; start Redis there, or set PATHWAY_BROKER_URL "
                         "to one that runs")
    return url
