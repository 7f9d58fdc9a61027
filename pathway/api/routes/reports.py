"""Reports for managers (their team) and integrations (any team)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.api.report_schemas import REPLIES
from pathway.services.auth import Access

router = APIRouter(prefix="/reports", tags=["reports"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}
# A row carries the groupings asked for and no others: fields left unset stay out of the reply.
REPLY = {"responses": ERRORS, "response_model_exclude_unset": True}


def Text():  # noqa: N802 - a fresh parameter declaration per use (FastAPI must not share them)
    return Query(default=None, min_length=1, max_length=64)


def GroupBy():  # noqa: N802
    return Query(default=None, max_length=20,
                 description="dimensions, repeated or comma-separated: client_group, stage, team, priority, …")


def From():  # noqa: N802
    return Query(default=None, alias="from", min_length=1, max_length=64)


def To():  # noqa: N802
    return Query(default=None, alias="to", min_length=1, max_length=64)


def _group_by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@router.get("/waits", response_model=list[REPLIES["waits"]], **REPLY)
def waits(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(), team: str | None = Text(),
          as_at: str | None = Text(), priority: str | None = Text(), client_group: str | None = Text(),
          stage: str | None = Text(), day_mode: str | None = Text()):
    """Who waits at the end of ``as_at`` (default today): ``waiting, median_days, p90_days, max_days,
    over_threshold`` per group."""
    return access.report("waits", group_by=_group_by(group_by), team=team, as_at=as_at, priority=priority,
                         client_group=client_group, stage=stage, day_mode=day_mode)


@router.get("/allocation", response_model=list[REPLIES["allocation"]], **REPLY)
def allocation(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(),
               start: str | None = From(),
               end: str | None = To(),
               team: str | None = Text(), priority: str | None = Text(), client_group: str | None = Text(),
               stage: str | None = Text(), day_mode: str | None = Text()):
    """First allocations from ``from`` to ``to``: ``allocated, mean_days, median_days, p90_days`` per group."""
    return access.report("allocation", group_by=_group_by(group_by), start=start, end=end, team=team,
                         priority=priority, client_group=client_group, stage=stage, day_mode=day_mode)


@router.get("/caseloads", response_model=list[REPLIES["caseloads"]], **REPLY)
def caseloads(access: Access = Depends(get_access), team: str | None = Text(), by: str | None = Text()):
    """Each worker's caseload against their cap (``by=team``: per team)."""
    return access.report("caseloads", team=team, by=by)


@router.get("/outcomes", response_model=list[REPLIES["outcomes"]], **REPLY)
def outcomes(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(),
             start: str | None = From(),
             end: str | None = To(),
             team: str | None = Text(), priority: str | None = Text(), client_group: str | None = Text()):
    """By month: contacts, conversations started, closures and outcomes, repeat contacts and shares."""
    return access.report("outcomes", group_by=_group_by(group_by), start=start, end=end, team=team,
                         priority=priority, client_group=client_group)


@router.get("/trends", response_model=list[REPLIES["trends"]], **REPLY)
def trends(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(),
           start: str | None = From(),
           end: str | None = To(),
           period: str | None = Text(), team: str | None = Text(), priority: str | None = Text(),
           client_group: str | None = Text(), stage: str | None = Text(), day_mode: str | None = Text()):
    """Per week or month: who waited at its end and the first allocations made in it."""
    return access.report("trends", group_by=_group_by(group_by), start=start, end=end, period=period, team=team,
                         priority=priority, client_group=client_group, stage=stage, day_mode=day_mode)


@router.get("/progression", response_model=list[REPLIES["progression"]], **REPLY)
def progression(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(),
                team: str | None = Text(), as_at: str | None = Text(), day_mode: str | None = Text()):
    """Case progression per worker and stage: active, days active, stale, overdue next actions, flagged."""
    return access.report("progression", group_by=_group_by(group_by), team=team, as_at=as_at, day_mode=day_mode)


@router.get("/front-door", response_model=list[REPLIES["front_door"]], **REPLY)
def front_door(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
               team: str | None = Text(), client_group: str | None = Text(), day_mode: str | None = Text()):
    """Per day: contacts, decided, decided the same day, median and p90 days to decision, resolved at contact."""
    return access.report("front_door", start=start, end=end, team=team, client_group=client_group,
                         day_mode=day_mode)


@router.get("/forecast", response_model=list[REPLIES["forecast"]], **REPLY)
def forecast(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy(), team: str | None = Text(),
             as_at: str | None = Text(), priority: str | None = Text(), client_group: str | None = Text(),
             stage: str | None = Text(), day_mode: str | None = Text()):
    """Per queue: expected days to allocation for a contact arriving on ``as_at`` (default today)."""
    return access.report("forecast", group_by=_group_by(group_by), team=team, as_at=as_at, priority=priority,
                         client_group=client_group, stage=stage, day_mode=day_mode)
