"""Teams and their workers, as lists: ``GET /teams`` and ``GET /workers`` (with caseloads and caps)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.services.auth import Access

router = APIRouter(tags=["admin"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}}


@router.get("/teams", response_model=list[schemas.TeamPublic], responses=ERRORS)
def list_teams(access: Access = Depends(get_access)):
    """Every team, by key (any role)."""
    return access.teams()


@router.get("/workers", response_model=list[schemas.StaffPublic], responses=ERRORS)
def list_workers(team: str | None = Query(None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$",
                                          description="only this team's workers"),
                 access: Access = Depends(get_access)):
    """Workers by team and key, each with their caseload against their cap and whether they are active
    (admin and integration: every team; a manager or duty worker: their own team)."""
    return access.staff(team)
