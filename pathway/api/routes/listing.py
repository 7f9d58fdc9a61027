"""Reading episodes: the listing with its filters and cursor, a worker's tray and a team's front door."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, create_model

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.services.auth import Access
from pathway.services.engine import EpisodeCasework
from pathway.services.tray import MAX_LIST_LIMIT

router = APIRouter(tags=["episodes"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}}

# An episode with its casework, without the internal version.
EpisodeCaseworkPublic = create_model(
    "EpisodeCaseworkPublic", __doc__="An episode with its last event, next action, flag and last discussion.",
    **{name: (f.annotation, ...) for name, f in EpisodeCasework.model_fields.items() if name != "version"})


class EpisodePage(BaseModel):
    items: list[EpisodeCaseworkPublic]
    next_cursor: str | None


def Key(what: str):  # noqa: N802 - a fresh parameter declaration per use
    return Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$", description=f"the {what}'s key")


@router.get("/episodes", response_model=EpisodePage, responses=ERRORS)
def list_episodes(
        access: Access = Depends(get_access),
        team: str | None = Query(None, max_length=64),
        worker: str | None = Query(None, max_length=64),
        stage: str | None = Query(None, max_length=16),
        client_group: str | None = Query(None, max_length=64),
        flagged: bool | None = Query(None, description="true: flagged for the huddle; false: not flagged"),
        stale_days: int | None = Query(None, ge=0, le=100_000,
                                       description="open episodes with no event for more than this many days"),
        person_ref: str | None = Query(None, max_length=64),
        external_ref: str | None = Query(None, max_length=64),
        cursor: str | None = Query(None, max_length=16, description="next_cursor of the page before"),
        limit: int = Query(50, ge=1, le=MAX_LIST_LIMIT)):
    """Episodes by id, a page at a time (duty and manager: their own team; integration: any). A page is
    stable under concurrent writes: new episodes come on later pages, a move keeps its place."""
    return access.episodes(team=team, worker=worker, stage=stage, client_group=client_group, flagged=flagged,
                           stale_days=stale_days, person_ref=person_ref, external_ref=external_ref, cursor=cursor,
                           limit=limit)


@router.get("/workers/{worker}/tray", response_model=list[EpisodeCaseworkPublic], responses=ERRORS)
def tray(worker: str = Key("worker"), access: Access = Depends(get_access)):
    """The worker's active episodes, oldest allocation first (duty: their own; manager: their team's)."""
    return access.tray(worker)


@router.get("/teams/{team}/front-door", response_model=list[schemas.EpisodePublic], responses=ERRORS)
def front_door(team: str = Key("team"), access: Access = Depends(get_access)):
    """The team's contacts waiting for a decision: crises first, then in order of arrival."""
    return access.front_door(team)
