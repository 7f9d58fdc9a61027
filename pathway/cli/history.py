"""History in and national returns out: ``pathway import FILE.csv`` and ``pathway export cld``."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from pathway.cli.app import app, console, err_console, fail, get_engine
from pathway.errors import PathwayError

export_app = typer.Typer(help="National returns out of the event log.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="the case record system's CSV extract (UTF-8), one row per event"),
    mapping: Path | None = typer.Option(None, "--mapping", "-m",
                                        help="TOML file mapping the council's column headings and codes to ours"),
    actor: str | None = typer.Option(None, help="who is importing (recorded on events without an actor column)"),
    single_pass: bool = typer.Option(False, "--single-pass",
                                     help="check and write in one pass, rolled back if any row is bad (faster)"),
) -> None:
    """Backfill history from a CSV extract, all or nothing: every bad row is listed and nothing is written."""
    engine = get_engine(actor="import")
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                      console=err_console, transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(phase: str, done: int, total: int | None) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)

            summary = engine.import_history(str(file), str(mapping) if mapping else None, actor=actor,
                                            progress=progress, single_pass=single_pass)
    except PathwayError as exc:
        errors = exc.extra.get("errors")
        if not errors:
            err_console.print(f"[bold red]error:[/] {exc.detail}")
            raise typer.Exit(1) from None
        count = exc.extra.get("error_count", len(errors))
        err_console.print(f"[bold red]refused:[/] {count} bad row{'s' if count != 1 else ''} in {file}; "
                          "nothing was written")
        for e in errors:
            err_console.print(f"  line {e['line']}: {e['reason']}", markup=False, highlight=False)
        if exc.extra.get("not_listed"):
            err_console.print(f"  … and {exc.extra['not_listed']} more")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"imported {file}: {summary.episodes:,} episodes, {summary.events:,} events "
                  f"({summary.new_episodes:,} new episodes, {summary.new_events:,} new events, "
                  f"{summary.unchanged_events:,} already there) in {summary.seconds:.1f}s")
    for group, n in summary.by_client_group.items():
        console.print(f"  {group}: {n:,} episodes")


@export_app.command("cld")
def export_cld(
    start: str = typer.Option(..., "--from", help="first day of the reporting period (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="last day of the reporting period (YYYY-MM-DD), inclusive"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the CSV here instead of standard output"),
    mapping: Path | None = typer.Option(None, "--mapping", "-m",
                                        help="CLD mapping TOML (default: config/cld-mapping.toml over the defaults)"),
) -> None:
    """The client-level data return's completed requests, assessments and reviews for a period, as CSV."""
    from pathway.services import cld

    engine = get_engine()
    try:
        rows = engine.export_cld(start, end, str(mapping) if mapping else None)
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()
    text = cld.to_csv(rows)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8", newline="")
    kinds = Counter(r["Event_Type"] for r in rows)
    err_console.print(f"wrote {len(rows):,} events to {out}: "
                      + (", ".join(f"{n:,} {k.lower()}s" for k, n in sorted(kinds.items())) or "none in the period"))
