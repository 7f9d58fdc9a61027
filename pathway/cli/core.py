"""Core commands: schema migrations and the demo council."""

from __future__ import annotations

import typer

from pathway.cli.app import app, console

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to PATHWAY_DATABASE_URL (safe to run again)."""
    from pathway.settings import load_settings
    from pathway.store.db import current_heads, make_engine, upgrade

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    console.print(f"schema at {', '.join(sorted(current_heads(engine)))} on {engine.url.render_as_string()}")


@app.command()
def diagram() -> None:
    """Print the pathway as a Mermaid state diagram, drawn by transitions from pathway/stages.py."""
    from pathway.domain.stages import mermaid

    typer.echo(mermaid(), nl=False)
