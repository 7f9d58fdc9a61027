"""Core commands: schema migrations and the pathway diagram."""

from __future__ import annotations

import typer

from pathway.cli.app import app, console, fail
from pathway.errors import SetupError

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to PATHWAY_DATABASE_URL (safe to run again)."""
    from pathway.services.schema import upgrade_schema

    try:
        heads, url = upgrade_schema()
    except SetupError as exc:
        fail(exc)
    console.print(f"schema at {', '.join(sorted(heads))} on {url}")


@app.command()
def diagram() -> None:
    """Print the pathway as a Mermaid state diagram, drawn by transitions from pathway/domain/stages.py."""
    from pathway.domain.stages import mermaid

    typer.echo(mermaid(), nl=False)
