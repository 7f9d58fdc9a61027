"""Duty desk commands: a team's queue in claim order, a duty worker's claim, the front door and a worker's tray."""

from __future__ import annotations

import typer

from pathway.cli.app import Format, app, console, fail, get_engine, print_rows, with_engine
from pathway.errors import PathwayError

duty_app = typer.Typer(help="The duty desk: team queues and self-allocation.", no_args_is_help=True)
app.add_typer(duty_app, name="duty")

QUEUE_COLUMNS = ("position", "id", "person_ref", "client_group", "stage", "priority", "wait_from",
                 "days_waiting")
CLAIM_COLUMNS = ("id", "person_ref", "client_group", "team", "stage", "priority", "worker", "wait_from",
                 "allocated_at", "days_to_allocation")


def _read(use, numbered: bool = False) -> list[dict]:
    """Rows of what ``use(engine)`` lists (with their position when ``numbered``); a domain error exits 1."""
    rows = [item.model_dump(mode="json") for item in with_engine(use)]
    return [{"position": n, **row} for n, row in enumerate(rows, 1)] if numbered else rows


def _print(rows: list[dict], fmt: Format, empty: str, title: str, columns) -> None:
    if not rows and fmt == Format.table:
        console.print(empty)
        return
    print_rows(rows, fmt, title=title, columns=columns)


@duty_app.command("queue")
def queue(team: str = typer.Option(..., "--team", help="team key"),
          format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """The team's waiting episodes in claim order: crisis, then priority, then longest waiting."""
    rows = _read(lambda engine: engine.queue(team), numbered=True)
    _print(rows, format, f"nothing waiting in team {team}", f"queue of team {team}", QUEUE_COLUMNS)


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


FRONT_DOOR_COLUMNS = ("position", "id", "person_ref", "client_group", "priority", "contact_at", "days_waiting")
TRAY_COLUMNS = ("id", "person_ref", "client_group", "stage", "days_since_allocation", "last_event",
                "days_since_last_event", "next_action", "next_action_due", "next_action_overdue", "flagged",
                "days_since_discussed")


@duty_app.command("front-door")
def front_door(team: str = typer.Option(..., "--team", help="team key"),
               format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """The team's contacts waiting for a decision: crises first, then in order of arrival."""
    rows = _read(lambda engine: engine.front_door(team), numbered=True)
    _print(rows, format, f"nobody at team {team}'s front door", f"front door of team {team}", FRONT_DOOR_COLUMNS)


@duty_app.command("mine")
def mine(worker: str = typer.Option(..., "--worker", help="the worker's key"),
         format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """The worker's tray: their active episodes with the last event, the next action and the flag."""
    rows = _read(lambda engine: engine.tray(worker))
    _print(rows, format, f"no active episodes for {worker}", f"tray of {worker}", TRAY_COLUMNS)
