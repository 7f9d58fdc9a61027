"""``pathway serve`` (the HTTP API and huddle board) and ``pathway token create``."""

from __future__ import annotations

import json
import logging
import sys

import typer

from pathway.cli.app import Format, app, console, fail, get_engine, migrate_on_start, print_rows
from pathway.errors import PathwayError

token_app = typer.Typer(help="API tokens: made here, shown once, stored hashed.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port to listen on"),
          workers: int = typer.Option(1, help="uvicorn worker processes (the API is stateless)")) -> None:
    """Run the HTTP API and the huddle board (uvicorn) on PATHWAY_DATABASE_URL or the embedded default."""
    import uvicorn

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("pathway.http")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    migrate_on_start()  # once, before uvicorn's workers start
    # uvicorn's own access log is off: it would print query strings, and the board's first visit has a token.
    uvicorn.run("pathway.api.serve:app", host=host, port=port, workers=workers, access_log=False,
                log_level="info", server_header=False)  # no "server: uvicorn" banner


@token_app.command("create")
def token_create(role: str = typer.Option(..., "--role", help="duty, manager, integration or admin"),
                 worker: str | None = typer.Option(None, "--worker", help="the worker a duty token acts as"),
                 team: str | None = typer.Option(None, "--team", help="the team a manager token is for"),
                 name: str | None = typer.Option(None, "--name", help="who or what holds it (shown in the log)"),
                 expires: str | None = typer.Option(None, "--expires", help="a lifetime (30d, 12h, 90m) or an ISO "
                                                    "8601 date or time; default: the role's"),
                 fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Make an API token and print it once: only its SHA-256 hash is kept."""
    from pathway.services.auth import create_token

    engine = get_engine("cli")
    try:
        token, row = create_token(engine, role, worker=worker, team=team, name=name, actor="cli", expires=expires)
    except PathwayError as exc:
        fail(exc)
    if fmt == Format.json:
        typer.echo(json.dumps({**row, "token": token}, default=str))
        return
    console.print(f"token {row['id']} for {row['role']} {row['worker'] or row['team'] or row['name']}, until "
                  f"{row['expires_at']:%Y-%m-%d %H:%M} UTC (shown once; keep it safe):")
    typer.echo(token)


@token_app.command("list")
def token_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Every token, without its secret."""
    from pathway.services.auth import list_tokens

    print_rows(list_tokens(get_engine("cli")), fmt, title="API tokens")


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token; it stops working at once."""
    from pathway.services.auth import revoke_token

    try:
        revoke_token(get_engine("cli"), token_id)
    except PathwayError as exc:
        fail(exc)
    console.print(f"token {token_id} revoked")
