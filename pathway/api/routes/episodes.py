"""Contacts, episodes and their events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from pathway.api import schemas
from pathway.api.deps import IdempotencyHeader, IfMatchHeader, etag, expected_version, get_access, idempotency_key
from pathway.domain.commands import Move, RecordContact
from pathway.services.auth import Access

router = APIRouter(tags=["episodes"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody},
          422: {"model": schemas.ErrorBody}}


# The ETag header of a reply that carries an episode.
ETAG = {"ETag": {"description": "the episode's version, quoted (\"3\"): send it as If-Match on a move",
                 "schema": {"type": "string"}}}


@router.post("/contacts", status_code=201, response_model=schemas.EpisodePublic,
             responses={**ERRORS, 201: {"headers": ETAG}})
def record_contact(body: schemas.ContactCreate, response: Response, access: Access = Depends(get_access),
                   header_key: str | None = IdempotencyHeader()):
    """A new contact: creates the person's episode at stage ``contact`` (integration, duty, manager)."""
    key = idempotency_key(body.idempotency_key, header_key)
    ep = access.record_contact(RecordContact(**{**body.model_dump(), "idempotency_key": key}))
    response.headers["ETag"] = etag(ep.version)
    return ep


@router.get("/episodes/{episode_id}", response_model=schemas.EpisodePublic,
            responses={**ERRORS, 200: {"headers": ETAG}})
def get_episode(response: Response, episode_id: schemas.EpisodeId, access: Access = Depends(get_access)):
    """The episode (everyone but a duty worker of another team). Its ``ETag`` is its version: send it
    back as ``If-Match`` on a move to apply the move only if nobody has moved the episode since."""
    ep = access.get(episode_id)
    response.headers["ETag"] = etag(ep.version)
    return ep


@router.get("/episodes/{episode_id}/events", response_model=list[schemas.EventPublic], responses=ERRORS)
def episode_events(episode_id: schemas.EpisodeId, access: Access = Depends(get_access)):
    """The append-only event log, oldest first."""
    return access.history(episode_id)


@router.post("/episodes/{episode_id}/events", response_model=schemas.EpisodePublic,
             responses={**ERRORS, 200: {"headers": ETAG},
                        412: {"model": schemas.ErrorBody,
                              "description": "If-Match named a version the episode is no longer at "
                                             "(error stale_version); nothing was written"}})
def move(body: schemas.EventCreate, response: Response, episode_id: schemas.EpisodeId,
         access: Access = Depends(get_access), header_key: str | None = IdempotencyHeader(),
         if_match: str | None = IfMatchHeader()):
    """Move the episode on by a trigger (integration, duty of its team, manager of its team).
    An impossible move is 409 with ``stage`` and ``allowed``; with ``If-Match`` a stale version is 412."""
    command = Move(**{**body.model_dump(), "idempotency_key": idempotency_key(body.idempotency_key, header_key),
                      "expected_version": expected_version(if_match)})
    ep = access.move(episode_id, command)
    response.headers["ETag"] = etag(ep.version)
    return ep
