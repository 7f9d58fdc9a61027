"""Contacts, episodes and their events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from pathway.api import schemas
from pathway.api.deps import IdempotencyHeader, get_access, idempotency_key
from pathway.services.auth import Access

router = APIRouter(tags=["episodes"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}


def EpisodeId():  # noqa: N802 - a fresh parameter declaration per use
    return Path(ge=1, le=schemas.MAX_INT, description="the episode's id")


@router.post("/contacts", status_code=201, response_model=schemas.EpisodePublic, responses=ERRORS)
def record_contact(body: schemas.ContactCreate, access: Access = Depends(get_access),
                   header_key: str | None = IdempotencyHeader()):
    """A new contact: creates the person's episode at stage ``contact`` (integration, duty, manager)."""
    data = body.model_dump()
    data["idempotency_key"] = idempotency_key(body.idempotency_key, header_key)
    return access.record_contact(**data)


@router.get("/episodes/{episode_id}", response_model=schemas.EpisodePublic, responses=ERRORS)
def get_episode(episode_id: int = EpisodeId(), access: Access = Depends(get_access)):
    """The episode (everyone but a duty worker of another team)."""
    return access.get(episode_id)


@router.get("/episodes/{episode_id}/events", response_model=list[schemas.EventPublic], responses=ERRORS)
def episode_events(episode_id: int = EpisodeId(), access: Access = Depends(get_access)):
    """The append-only event log, oldest first."""
    return access.history(episode_id)


@router.post("/episodes/{episode_id}/events", response_model=schemas.EpisodePublic, responses=ERRORS)
def fire(body: schemas.EventCreate, episode_id: int = EpisodeId(), access: Access = Depends(get_access),
         header_key: str | None = IdempotencyHeader()):
    """Move the episode on by a trigger (integration, duty of its team, manager of its team).
    An impossible move is 409 with ``stage`` and ``allowed``."""
    data = body.model_dump()
    data["idempotency_key"] = idempotency_key(body.idempotency_key, header_key)
    return access.fire(episode_id, **data)
