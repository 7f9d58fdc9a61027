"""``pathway episode``: record a contact, move an episode on, and read an episode and its log from the shell.

The options of ``contact`` and ``fire`` are made from the command objects' fields
(pathway.domain.commands), so an argument added to a command reaches the command line with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import getpass
import inspect
import json
import typing

import typer

from pathway.cli.app import Format, app, print_rows, with_engine
from pathway.domain.commands import Move, RecordContact, fields_of

episode_app = typer.Typer(help="Episodes: contacts, moves, an episode and its event log.", no_args_is_help=True)
app.add_typer(episode_app, name="episode")

EPISODE_COLUMNS = ("id", "person_ref", "client_group", "team", "stage", "worker", "priority", "contact_at",
                   "allocated_at", "outcome", "days_waiting", "days_to_allocation", "version")
HISTORY_COLUMNS = ("seq", "trigger", "from_stage", "to_stage", "occurred_at", "recorded_at", "actor", "worker",
                   "outcome", "note", "allocation", "data")
# What fits a terminal's width: the rest is in --format json or csv.
HISTORY_TABLE = ("seq", "trigger", "from_stage", "to_stage", "occurred_at", "actor", "worker", "outcome", "note")


def default_actor() -> str:
    """Who the log records when --actor is not given: the person at the shell, else "cli"."""
    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "cli"


def _cli_type(annotation) -> type:
    """A command field's type as a shell gives it: text for a time (the engine parses it), no None."""
    args = [a for a in typing.get_args(annotation) if a not in (type(None), dt.datetime)]
    return args[0] if args else annotation


def _parameters(command: type, arguments: tuple[str, ...]) -> list[inspect.Parameter]:
    """A Typer parameter per field of ``command``: ``arguments`` are positional, the rest --options."""
    hints = typing.get_type_hints(command)
    params = []
    for f in fields_of(command):
        required = f.default is dataclasses.MISSING
        help_text = f.metadata.get("description")
        if f.name in arguments:
            info = typer.Argument(..., help=help_text, metavar=f.name.upper())
        else:
            info = typer.Option(... if required else f.default, "--" + f.name.replace("_", "-"), help=help_text)
        params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=info,
                                        annotation=_cli_type(hints[f.name])))
    return params


def takes(command: type, *, arguments: tuple[str, ...] = (), after: str | None = None):
    """Give a Typer command ``command``'s fields as parameters and call it with the built ``command=`` object.

    The fields come after the function's parameter ``after`` (its positional arguments), else first."""

    def decorate(func):
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "command"]
        at = next((i + 1 for i, p in enumerate(own) if p.name == after), 0)
        hints = typing.get_type_hints(func)
        own = [p.replace(annotation=hints[p.name]) for p in own]
        params = [*own[:at], *_parameters(command, arguments), *own[at:]]
        names = [f.name for f in fields_of(command)]

        @functools.wraps(func)
        def run(**kwargs):
            return func(command=command(**{name: kwargs.pop(name) for name in names}), **kwargs)

        run.__signature__ = inspect.Signature(params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate


def ActorOption():  # noqa: N802 - a fresh parameter declaration per use
    return typer.Option(None, "--actor", help="who the event log records as making the change "
                                              "(default: your user name, else 'cli')")


def FormatOption():  # noqa: N802
    return typer.Option(Format.table, "--format", help="table, json or csv")


def EpisodeArgument():  # noqa: N802
    return typer.Argument(..., metavar="ID", help="the episode's id")


def print_episode(ep, fmt: Format) -> None:
    """One episode: a row for json and csv; a field per line in a table, so it fits a terminal."""
    row = ep.model_dump(mode="json")
    if fmt == Format.table:
        print_rows([{"field": k, "value": row[k]} for k in EPISODE_COLUMNS], fmt, title=f"episode {ep.id}")
    else:
        print_rows([row], fmt, columns=EPISODE_COLUMNS)


def _call(actor: str | None, use):
    """Run ``use(engine)`` on an engine acting as ``actor`` (the person at the terminal by default)."""
    return with_engine(use, actor or default_actor())


@episode_app.command("contact")
@takes(RecordContact)
def contact(command: RecordContact, actor: str | None = ActorOption(), format: Format = FormatOption()) -> None:
    """Record a contact: creates the person's episode at stage contact."""
    ep = _call(actor, lambda engine: engine.record_contact(**dataclasses.asdict(command)))
    print_episode(ep, format)


@episode_app.command("fire")
@takes(Move, arguments=("trigger",), after="episode_id")
def fire(command: Move, episode_id: int = EpisodeArgument(), actor: str | None = ActorOption(),
         format: Format = FormatOption()) -> None:
    """Move an episode on by TRIGGER; an impossible move names the stage and the triggers allowed from it."""
    ep = _call(actor, lambda engine: engine.move(episode_id, command))
    print_episode(ep, format)


@episode_app.command("show")
def show(episode_id: int = EpisodeArgument(), format: Format = FormatOption()) -> None:
    """The episode: stage, worker, days waiting and to allocation, and its version (for --expected-version)."""
    ep = _call(None, lambda engine: engine.get(episode_id))
    print_episode(ep, format)


@episode_app.command("history")
def history(episode_id: int = EpisodeArgument(), format: Format = FormatOption()) -> None:
    """The episode's append-only event log, oldest first."""
    events = _call(None, lambda engine: engine.history(episode_id))
    rows = [{k: _plain(ev.get(k), nested=format == Format.json) for k in HISTORY_COLUMNS} for ev in events]
    print_rows(rows, format, title=f"events of episode {episode_id}",
               columns=HISTORY_TABLE if format == Format.table else HISTORY_COLUMNS)


def _plain(value, nested: bool):
    """A log value as it prints: ISO 8601 times; an event's data as JSON (as text unless ``nested``), or none."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return (value if nested else json.dumps(value)) if value else None
    return value
