"""Workforce commands: a worker's skills, role, FTE and line manager, absences, releasing their people,
supervision, the audit log; and ``pathway report supervision``."""

from __future__ import annotations

import json

import typer

from pathway.cli.app import Format, app, console, print_rows
from pathway.cli.episodes import ActorOption, _call  # _call: an engine acting as the actor; errors exit 1
from pathway.cli.reports import AS_AT, FORMAT, TEAM, report_app

workforce_app = typer.Typer(help="The workforce: skills, absences, line management and supervision.",
                            no_args_is_help=True)
app.add_typer(workforce_app, name="workforce")

WORKER = typer.Argument(..., help="the worker's key")
PROFILE_COLUMNS = ("worker", "team", "role", "fte", "line_manager", "caseload_cap", "skills")


def _profile(row: dict, fmt: Format) -> None:
    print_rows([{**row, "skills": ", ".join(row["skills"])}], fmt, title=f"worker {row['worker']}",
               columns=PROFILE_COLUMNS)


@workforce_app.command("show")
def show(worker: str = WORKER, fmt: Format = FORMAT) -> None:
    """The worker's role, FTE, line manager and skills."""
    _profile(_call(None, lambda e: e.workforce.profile(worker)), fmt)


@workforce_app.command("skills")
def skills(worker: str = WORKER,
           skill: list[str] = typer.Option(..., "--skill", help="a skill the worker carries (repeat; '' for none)"),
           actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Replace the worker's skills with those given."""
    given = [s for s in skill if s]
    _profile(_call(actor, lambda e: e.workforce.set_skills(worker, given)), fmt)


@workforce_app.command("update")
def update(worker: str = WORKER,
           role: str | None = typer.Option(None, "--role", help="practitioner or manager"),
           fte: float | None = typer.Option(None, "--fte", help="full-time equivalent, above 0 and at most 1"),
           line_manager: str | None = typer.Option(None, "--line-manager", help="a worker with role manager"),
           no_line_manager: bool = typer.Option(False, "--no-line-manager", help="remove the line manager"),
           actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Change the worker's role, FTE or line manager."""
    _profile(_call(actor, lambda e: e.workforce.update(worker, role=role, fte=fte, line_manager=line_manager,
                                                        clear_line_manager=no_line_manager)), fmt)


@workforce_app.command("absence")
def absence(worker: str = WORKER, start: str = typer.Option(..., "--start", help="first day away (YYYY-MM-DD)"),
            end: str = typer.Option(..., "--end", help="last day away (YYYY-MM-DD, included)"),
            reason: str = typer.Option(..., "--reason", help="leave, sickness, training or other"),
            actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Record an absence: the worker cannot claim or be allocated to while away."""
    row = _call(actor, lambda e: e.workforce.add_absence(worker, start, end, reason))
    print_rows([row], fmt, title=f"absence of {worker}")


@workforce_app.command("absences")
def absences(worker: str = WORKER, fmt: Format = FORMAT) -> None:
    """The worker's absences, by start."""
    print_rows(_call(None, lambda e: e.workforce.absences(worker)), fmt, title=f"absences of {worker}")


@workforce_app.command("release-all")
def release_all(worker: str = WORKER,
                reason: str = typer.Option(..., "--reason",
                                           help="leave, sickness, training, other, leaving or rebalancing"),
                actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Every active episode of the worker back to its queue, in one transaction (clocks not reset)."""
    released = _call(actor, lambda e: e.release_all(worker, reason))
    if not released and fmt == Format.table:
        console.print(f"{worker} had nobody allocated")
        return
    print_rows([ep.model_dump(mode="json") for ep in released], fmt, title=f"released from {worker}",
               columns=("id", "person_ref", "client_group", "stage", "wait_from"))


@workforce_app.command("reweigh")
def reweigh(episode: int = typer.Argument(..., help="the episode's id"),
            weight: float = typer.Option(..., "--weight", help="its weight in the worker's caseload (1 is ordinary)"),
            reason: str = typer.Option(..., "--reason", help="why it weighs this much"),
            actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Set how much an open episode weighs in its worker's caseload (with workforce.weighting)."""
    row = _call(actor, lambda e: e.workforce.reweigh(episode, weight, reason))
    print_rows([row], fmt, title=f"weight of episode {episode}")


@workforce_app.command("supervise")
def supervise(worker: str = WORKER, supervisor: str = typer.Option(..., "--supervisor", help="a manager's key"),
              on: str = typer.Option(..., "--on", help="the day of the session (YYYY-MM-DD)"),
              minutes: int = typer.Option(..., "--minutes", help="how long it lasted"),
              sampled: bool = typer.Option(False, "--sampled", help="its record was sampled for quality"),
              actor: str | None = ActorOption(), fmt: Format = FORMAT) -> None:
    """Record a supervision session."""
    row = _call(actor, lambda e: e.workforce.record_supervision(worker, supervisor, on, minutes, sampled))
    print_rows([row], fmt, title=f"supervision of {worker}")


@workforce_app.command("supervisions")
def supervisions(worker: str = WORKER, fmt: Format = FORMAT) -> None:
    """The worker's supervision sessions, oldest first."""
    print_rows(_call(None, lambda e: e.workforce.supervisions(worker)), fmt, title=f"supervisions of {worker}")


@workforce_app.command("log")
def log(worker: str = WORKER, fmt: Format = FORMAT) -> None:
    """Every change to the worker's workforce record, with who made it."""
    rows = [{**r, "data": json.dumps(r["data"])} for r in _call(None, lambda e: e.workforce.log(worker))]
    print_rows(rows, fmt, title=f"workforce log of {worker}")


@report_app.command("supervision")
def supervision(team: str = TEAM, as_at: str = AS_AT,
                by: str = typer.Option("worker", "--by", help="worker, or manager (direct reports)"),
                fmt: Format = FORMAT) -> None:
    """Supervisions in the 12 months to --as-at against the standard per worker, or (--by manager) line
    managers' direct reports against the span of control."""
    rows = _call(None, lambda e: e.reports.supervision(as_at=as_at, team=team, by=by))
    title = "Supervision by worker" if by == "worker" else "Direct reports by line manager"
    print_rows(rows, fmt, title=title)
