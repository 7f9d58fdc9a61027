"""The ``pathway`` command's shared parts: the Typer app, the engine it acts on, and output formats."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pathway.errors import PathwayError, SetupError

app = typer.Typer(help="Three Conversations pathway engine.", no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def get_engine(actor: str = "cli"):
    """The engine on PATHWAY_DATABASE_URL (or the config file's, or the embedded SQLite file). The
    schema must be there already (the embedded SQLite file makes its own): a command changes a
    database's shape only when asked, by ``pathway db upgrade``."""
    from pathway import Engine

    try:
        return Engine(actor=actor, migrate=None)
    except SetupError as exc:
        fail(exc)


def with_engine(use, actor: str = "cli"):
    """``use(engine)`` on an engine acting as ``actor``, disposed of afterwards; a domain error is
    printed and exits (pathway.cli.app.fail). The way every command runs its one call."""
    engine = get_engine(actor=actor)
    try:
        return use(engine)
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()


def migrate_on_start() -> None:
    """``serve`` and ``worker`` bring the schema up to date as they start, unless PATHWAY_MIGRATE_ON_START
    is off (then an out-of-date schema stops them with what to do)."""
    from pathway.services.schema import upgrade_schema
    from pathway.settings import load_settings

    try:
        settings = load_settings()
        if settings.migrate_on_start:
            upgrade_schema(settings)
            return
    except SetupError as exc:
        fail(exc)
    get_engine().dispose()


def fail(exc: PathwayError) -> None:
    """Print an error the way a person reads it and exit: 1 for a bad input, 2 for a mistake of the
    environment (a SetupError: the database, its driver or schema, the broker)."""
    print_error(exc.detail)
    raise typer.Exit(2 if isinstance(exc, SetupError) else 1)


def print_error(detail: str) -> None:
    """``error: …`` on standard error, on one line, as written (no markup, no wrapping)."""
    err_console.print("[bold red]error:[/] " + escape(detail), soft_wrap=True, highlight=False)


def print_rows(rows: Sequence[dict], fmt: Format = Format.table, title: str | None = None,
               columns: Sequence[str] | None = None) -> None:
    """Rows of dicts as a rich table, JSON or CSV on standard output."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == Format.json:
        sys.stdout.write(json.dumps(list(rows), indent=2, default=str) + "\n")
        return
    if fmt == Format.csv:
        from pathway.services import csv_safe

        sys.stdout.write(csv_safe.write(rows, columns, lineterminator="\n"))
        return
    table = Table(title=title)
    for col in columns:
        # A column is numeric by its first value that is there (an empty group has no median).
        sample = next((row[col] for row in rows if row.get(col) is not None), None)
        table.add_column(col.replace("_", " "), justify="right" if isinstance(sample, int | float) else "left")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    if not rows:
        console.print(f"{title or 'rows'}: none")
    else:
        console.print(table)
