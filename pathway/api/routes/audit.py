"""The access log: who read whose record (admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.services.auth import Access

router = APIRouter(tags=["audit"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}


class Read(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    episode_id: int
    route: str


class Reads(BaseModel):
    items: list[Read]
    next_cursor: int | None


@router.get("/audit/access", response_model=Reads, responses=ERRORS)
def access_log(access: Access = Depends(get_access),
               episode: Annotated[int | None, Query(ge=1, le=schemas.MAX_INT, description="one episode's reads"),
                                  BeforeValidator(schemas.ascii_whole)] = None,
               actor: str | None = Query(default=None, min_length=1, max_length=200, description="one actor's reads"),
               after: Annotated[int, Query(ge=0, le=schemas.MAX_INT, description="next_cursor of the last page"),
                                BeforeValidator(schemas.ascii_whole)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000), BeforeValidator(schemas.ascii_whole)] = 100):
    """Every read of a person's episode or its events, by whom, when and by which route, oldest first (admin)."""
    return access.access_log(episode=episode, actor=actor, after=after, limit=limit)
