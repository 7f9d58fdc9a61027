"""The duty desk: a team's queue and self-allocation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from pathway.api import schemas
from pathway.api.deps import IdempotencyHeader, get_access
from pathway.services.auth import Access, idempotent

router = APIRouter(tags=["duty desk"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}


def TeamKey():  # noqa: N802 - a fresh parameter declaration per use
    return Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")


def _episode(ep) -> dict:
    return jsonable_encoder(schemas.EpisodePublic.model_validate(ep, from_attributes=True))


@router.get("/teams/{team}/queue", response_model=list[schemas.QueuedEpisodePublic], responses=ERRORS)
def queue(team: str = TeamKey(), access: Access = Depends(get_access)):
    """Waiting episodes in claim order (duty and manager of that team)."""
    return access.queue(team)


@router.post("/teams/{team}/queue/claim", response_model=schemas.EpisodePublic, responses=ERRORS)
def claim_next(team: str = TeamKey(), access: Access = Depends(get_access),
               header_key: str | None = IdempotencyHeader()):
    """The calling duty worker takes the next episode; 404 when nothing waits."""
    status, reply = idempotent(access.engine, access.actor, header_key, {"what": f"claim next {team}"},
                               lambda: (200, _episode(access.claim_next(team))))
    return JSONResponse(reply, status_code=status)


@router.post("/episodes/{episode_id}/claim", response_model=schemas.EpisodePublic, responses=ERRORS)
def claim(episode_id: schemas.EpisodeId, access: Access = Depends(get_access),
          header_key: str | None = IdempotencyHeader()):
    """The calling duty worker takes this episode; a second claimer gets 409."""
    status, reply = idempotent(access.engine, access.actor, header_key, {"what": f"claim {episode_id}"},
                               lambda: (200, _episode(access.claim(episode_id))))
    return JSONResponse(reply, status_code=status)
