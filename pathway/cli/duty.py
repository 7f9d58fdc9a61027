"""Duty desk commands: a team's queue in claim order, and a duty worker's claim."""

from __future__ import annotations

import typer

from pathway.cli.app import Format, app, console, fail, get_engine, print_rows
from pathway.errors import PathwayError

duty_app = typer.Typer(help="The duty desk: team queues and self-allocation.", no_args_is_help=True)
app.add_typer(duty_app, name="duty")

QUEUE_COLUMNS = ("position", "id", "person_ref", "client_group", "stage", "priority", "wait_from",
                 "days_waiting")
CLAIM_COLUMNS = ("id", "person_ref", "client_group", "team", "stage", "priority", "worker", "wait_from",
                 "allocated_at", "days_to_allocation")


@duty_app.command("queue")
def queue(team: str = typer.Option(..., "--team", help="team key"),
          format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """The team's waiting episodes in claim order: crisis, then priority, then longest waiting."""
    engine = get_engine()
    try:
        episodes = engine.queue(team)
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()
    rows = [{"position": n, **ep.model_dump(mode="json")} for n, ep in enumerate(episodes, 1)]
    if not rows and format == Format.table:
        console.print(f"nothing waiting in team {team}")
        return
    print_rows(rows, format, title=f"queue of team {team}", columns=QUEUE_COLUMNS)


@duty_app.command("claim")
def claim(worker: str = typer.Option(..., "--worker", help="the duty worker's key"),
          episode: int | None = typer.Option(None, "--episode", help="claim this episode rather than the next"),
          format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """Self-allocation: the worker takes the next episode of their team's queue (or --episode ID)."""
    engine = get_engine(actor=worker)
    try:
        if episode is not None:
            taken = engine.claim(episode, worker)
            team = taken.team
        else:
            team = engine.worker(worker)["team"]
            taken = engine.claim_next(team, worker)
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()
    if taken is None:
        console.print(f"nothing waiting in team {team}")
        return
    print_rows([taken.model_dump(mode="json")], format, title=f"claimed by {worker}", columns=CLAIM_COLUMNS)
