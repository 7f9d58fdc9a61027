"""Reports for managers (their team) and integrations (any team)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.auth import Access

router = APIRouter(prefix="/reports", tags=["reports"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}
Text = Query(default=None, min_length=1, max_length=64)
GroupBy = Query(default=None, max_length=200,
                description="dimensions, repeated or comma-separated: client_group, stage, team, priority, …")


def _group_by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@router.get("/waits", response_model=list[schemas.Row], responses=ERRORS)
def waits(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy, team: str | None = Text,
          as_at: str | None = Text, priority: str | None = Text, client_group: str | None = Text,
          stage: str | None = Text, day_mode: str | None = Text):
    """Who waits at the end of ``as_at`` (default today): ``waiting, median_days, p90_days, max_days,
    over_threshold`` per group."""
    return access.report("waits", group_by=_group_by(group_by), team=team, as_at=as_at, priority=priority,
                         client_group=client_group, stage=stage, day_mode=day_mode)


@router.get("/allocation", response_model=list[schemas.Row], responses=ERRORS)
def allocation(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy,
               start: str | None = Query(default=None, alias="from", min_length=1, max_length=64),
               end: str | None = Query(default=None, alias="to", min_length=1, max_length=64),
               team: str | None = Text, priority: str | None = Text, client_group: str | None = Text,
               stage: str | None = Text, day_mode: str | None = Text):
    """First allocations from ``from`` to ``to``: ``allocated, mean_days, median_days, p90_days`` per group."""
    return access.report("allocation", group_by=_group_by(group_by), start=start, end=end, team=team,
                         priority=priority, client_group=client_group, stage=stage, day_mode=day_mode)


@router.get("/caseloads", response_model=list[schemas.Row], responses=ERRORS)
def caseloads(access: Access = Depends(get_access), team: str | None = Text):
    """Each worker's caseload against their cap."""
    return access.report("caseloads", team=team)


@router.get("/outcomes", response_model=list[schemas.Row], responses=ERRORS)
def outcomes(access: Access = Depends(get_access), group_by: list[str] | None = GroupBy,
             start: str | None = Query(default=None, alias="from", min_length=1, max_length=64),
             end: str | None = Query(default=None, alias="to", min_length=1, max_length=64),
             team: str | None = Text):
    """Episodes resolved or closed in the period, by outcome."""
    return access.report("outcomes", group_by=_group_by(group_by), start=start, end=end, team=team)
