"""``pathway report …``: the reports of pathway.services.reports as a table, JSON or CSV."""

from __future__ import annotations

import enum

import typer

from pathway.cli.app import Format, app, print_rows, with_engine

report_app = typer.Typer(help="Waits, days to allocation, trends, caseloads, outcomes and forecasts.",
                         no_args_is_help=True)
app.add_typer(report_app, name="report")


class Days(enum.StrEnum):
    calendar = "calendar"
    working = "working"


class Period(enum.StrEnum):
    week = "week"
    month = "month"


BY = typer.Option(None, "--by", help="group by, comma-separated: client_group, stage, team, priority")
TEAM = typer.Option(None, "--team", help="only this team")
CLIENT_GROUP = typer.Option(None, "--client-group", help="only this client group")
PRIORITY = typer.Option(None, "--priority", help="only this priority")
AS_AT = typer.Option(None, "--as-at", help="the day (YYYY-MM-DD, default today); past days come from the event log")
FROM = typer.Option(None, "--from", help="first day (YYYY-MM-DD)")
TO = typer.Option(None, "--to", help="last day (YYYY-MM-DD, default today)")
FORMAT = typer.Option(Format.table, "--format", help="table, json or csv")
DAYS = typer.Option(None, "--days", help="calendar or working days for every stage (default: each stage's own, "
                                         "the day_mode and day_mode_by_stage settings)")


def _run(title: str, fmt: Format, call) -> None:
    print_rows(with_engine(lambda engine: call(engine.reports)), fmt, title=title)


def _mode(days: Days | None) -> str | None:
    return None if days is None else days.value


@report_app.command("waits")
def waits(by: str = BY, team: str = TEAM, client_group: str = CLIENT_GROUP, priority: str = PRIORITY,
          as_at: str = AS_AT, fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """Who waits for allocation, per group: waiting, median, 90th percentile, longest, over threshold."""
    _run("Waits", fmt, lambda r: r.waits(group_by=by if by is not None else ["client_group", "stage"], team=team,
                                         as_at=as_at, priority=priority, client_group=client_group,
                                         day_mode=_mode(days)))


@report_app.command("allocation")
def allocation(by: str = BY, team: str = TEAM, client_group: str = CLIENT_GROUP, priority: str = PRIORITY,
               start: str = FROM, end: str = TO, fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """Days to allocation of the first allocations made from --from to --to (default the last 28 days)."""
    _run("Days to allocation", fmt, lambda r: r.allocation(
        group_by=by if by is not None else ["client_group", "stage"], start=start, end=end, team=team,
        priority=priority, client_group=client_group, day_mode=_mode(days)))


@report_app.command("trends")
def trends(by: str = BY, team: str = TEAM, client_group: str = CLIENT_GROUP, start: str = FROM, end: str = TO,
           period: Period = typer.Option(Period.week, "--period", help="week or month"),
           fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """Waits at the end of each week or month, and the allocations made in it."""
    _run("Trends", fmt, lambda r: r.trends(group_by=by if by is not None else ["client_group"], start=start,
                                           end=end, period=period.value, team=team, client_group=client_group,
                                           day_mode=_mode(days)))


@report_app.command("caseloads")
def caseloads(team: str = TEAM, by: str = typer.Option("worker", "--by", help="worker or team"),
              fmt: Format = FORMAT) -> None:
    """Active episodes per worker against their cap (or totals per team)."""
    _run("Caseloads", fmt, lambda r: r.caseloads(team=team, by=by))


@report_app.command("outcomes")
def outcomes(by: str = BY, team: str = TEAM, client_group: str = CLIENT_GROUP, start: str = FROM,
             end: str = TO, fmt: Format = FORMAT) -> None:
    """Contacts, conversations started and closed, outcomes and repeat contacts, by month."""
    _run("Outcomes and flow", fmt, lambda r: r.outcomes(group_by=by or [], start=start, end=end, team=team,
                                                        client_group=client_group))


@report_app.command("progression")
def progression(by: str = typer.Option(None, "--by", help="worker and/or stage (default both)"), team: str = TEAM,
                as_at: str = AS_AT, fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """Case progression per worker and stage: active, days active, stale, overdue next actions, flagged."""
    _run("Case progression", fmt, lambda r: r.progression(group_by=by, team=team, as_at=as_at, day_mode=_mode(days)))


@report_app.command("front-door")
def front_door(team: str = TEAM, client_group: str = CLIENT_GROUP, start: str = FROM, end: str = TO,
               fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """The front door per day: contacts, decided (the same day), days to decision, resolved at contact."""
    _run("Front door", fmt, lambda r: r.front_door(team=team, client_group=client_group, start=start, end=end,
                                                   day_mode=_mode(days)))


@report_app.command("forecast")
def forecast(by: str = BY, team: str = TEAM, client_group: str = CLIENT_GROUP, as_at: str = AS_AT,
             fmt: Format = FORMAT, days: Days = DAYS) -> None:
    """Expected days to allocation for a contact arriving today, per queue."""
    _run("Forecast", fmt, lambda r: r.forecast(group_by=by if by is not None else ["team", "stage"], team=team,
                                               client_group=client_group, as_at=as_at, day_mode=_mode(days)))
