"""The ``pathway`` command's shared parts: the Typer app, the engine it acts on, and output formats."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.table import Table

from pathway.errors import PathwayError

app = typer.Typer(help="Three Conversations pathway engine.", no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def get_engine(actor: str = "cli"):
    """The engine on PATHWAY_DATABASE_URL (or config/pathway.toml, or the embedded SQLite file)."""
    from pathway import Engine

    return Engine(actor=actor)


def fail(exc: PathwayError) -> None:
    """Print a domain error the way a person reads it and exit 1."""
    err_console.print(f"[bold red]error:[/] {exc.detail}")
    raise typer.Exit(1)


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
