"""``pathway team add|list`` and ``pathway staff add|list|update``: teams and their workers (``pathway worker``
is the Celery worker)."""

from __future__ import annotations

import typer

from pathway.cli.app import Format, app, print_rows, with_engine

team_app = typer.Typer(help="Teams: their queues, huddles and reports are by team.", no_args_is_help=True)
staff_app = typer.Typer(help="A team's workers: caseload caps, moves between teams, active or not.",
                        no_args_is_help=True)
app.add_typer(team_app, name="team")
app.add_typer(staff_app, name="staff")

FORMAT = typer.Option(Format.table, "--format", help="table, json or csv")
TEAM_COLUMNS = ("key", "name", "created_at", "created_by")
STAFF_COLUMNS = ("key", "name", "team", "active", "caseload", "cap", "free", "over_cap", "updated_by")


def _run(call, fmt: Format, title: str, columns) -> None:
    rows = with_engine(call)
    print_rows(rows if isinstance(rows, list) else [rows], fmt, title=title, columns=columns)


@team_app.command("add")
def team_add(key: str = typer.Argument(..., help="the team's key: lower-case letters, digits, '_' or '-'"),
             name: str = typer.Option(..., "--name", help="the team's name as people say it"),
             fmt: Format = FORMAT) -> None:
    """Make a team."""
    _run(lambda e: e.create_team(key=key, name=name), fmt, "team added", TEAM_COLUMNS)


@team_app.command("list")
def team_list(fmt: Format = FORMAT) -> None:
    """Every team."""
    _run(lambda e: e.teams(), fmt, "teams", TEAM_COLUMNS)


@staff_app.command("add")
def staff_add(key: str = typer.Argument(..., help="the worker's key: lower-case letters, digits, '_' or '-'"),
              name: str = typer.Option(..., "--name", help="the worker's name as their team says it"),
              team: str = typer.Option(..., "--team", help="the team whose queue they take from"),
              cap: int | None = typer.Option(None, "--cap", help="their caseload cap (default: caseload.default_cap)"),
              fmt: Format = FORMAT) -> None:
    """Add a worker to a team."""
    def add(engine):
        engine.create_worker(key=key, name=name, team=team, caseload_cap=cap)
        return [w for w in engine.staff(team) if w["key"] == key]

    _run(add, fmt, "worker added", STAFF_COLUMNS)


@staff_app.command("list")
def staff_list(team: str | None = typer.Option(None, "--team", help="only this team"), fmt: Format = FORMAT) -> None:
    """Every worker with their caseload against their cap, active or not."""
    _run(lambda e: e.staff(team), fmt, "staff", STAFF_COLUMNS)


@staff_app.command("update")
def staff_update(key: str = typer.Argument(..., help="the worker's key"),
                 cap: int | None = typer.Option(None, "--cap", help="their own caseload cap"),
                 default_cap: bool = typer.Option(False, "--default-cap", help="back to caseload.default_cap"),
                 team: str | None = typer.Option(None, "--team", help="move them to this team (holding no cases)"),
                 active: bool | None = typer.Option(None, "--active/--inactive",
                                                    help="whether they take allocations"),
                 fmt: Format = FORMAT) -> None:
    """Change a worker's cap, team or whether they are active; who and when are recorded."""
    _run(lambda e: e.update_worker(key, caseload_cap=cap, default_cap=default_cap, team=team, active=active),
         fmt, "worker updated", STAFF_COLUMNS)
