"""Teams, workers, tokens and webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from pathway.api import schemas
from pathway.api.deps import IdempotencyHeader, get_access, idempotency_key
from pathway.errors import Conflict
from pathway.services.auth import Access, idempotent

router = APIRouter(tags=["admin"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          409: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}}


def once(access: Access, what: str, body: schemas.Request, header_key: str | None, run, model,
         keep=lambda reply: reply) -> tuple[int, dict]:
    """Run a write once per idempotency key: (201, the reply), or the first reply to the same request."""
    data = body.model_dump(exclude={"idempotency_key"})
    key = idempotency_key(getattr(body, "idempotency_key", None), header_key)

    def work():
        return 201, jsonable_encoder(model.model_validate(run(data)))

    return idempotent(access.engine, access.actor, key, {"what": what, **data}, work, keep)


def reply(result: tuple[int, dict]) -> JSONResponse:
    return JSONResponse(result[1], status_code=result[0])


@router.post("/teams", status_code=201, response_model=schemas.TeamPublic, responses=ERRORS)
def create_team(body: schemas.TeamCreate, access: Access = Depends(get_access),
                header_key: str | None = IdempotencyHeader()):
    """A team (admin)."""
    return reply(once(access, "POST /teams", body, header_key, lambda d: access.create_team(**d),
                      schemas.TeamPublic))


@router.post("/workers", status_code=201, response_model=schemas.WorkerPublic, responses=ERRORS)
def create_worker(body: schemas.WorkerCreate, access: Access = Depends(get_access),
                  header_key: str | None = IdempotencyHeader()):
    """A worker (admin, or the manager of the worker's team)."""
    return reply(once(access, "POST /workers", body, header_key, lambda d: access.create_worker(**d),
                      schemas.WorkerPublic))


@router.post("/tokens", status_code=201, response_model=schemas.TokenCreated, responses=ERRORS)
def create_token(body: schemas.TokenCreate, access: Access = Depends(get_access),
                 header_key: str | None = IdempotencyHeader()):
    """An API token (admin). The token is in this reply only; the engine keeps its hash. A retry with the
    same idempotency key is 409 naming the token made: it cannot be shown again (revoke it and make another)."""
    def run(d):
        token, row = access.create_token(**d)
        return {**row, "token": token}

    def without_token(made: dict) -> dict:
        return {k: v for k, v in made.items() if k != "token"}

    status, made = once(access, "POST /tokens", body, header_key, run, schemas.TokenCreated, keep=without_token)
    if "token" not in made:
        raise Conflict(f"token {made['id']} was already made with this idempotency key and is shown only once; "
                       "revoke it and make another if it was lost", token_id=made["id"])
    return reply((status, made))


@router.get("/tokens", response_model=list[schemas.TokenPublic], responses=ERRORS)
def list_tokens(access: Access = Depends(get_access)):
    """Every token, without its secret (admin)."""
    return access.list_tokens()


@router.delete("/tokens/{token_id}", response_model=schemas.TokenPublic, responses=ERRORS)
def revoke_token(token_id: schemas.TokenId, access: Access = Depends(get_access)):
    """Revoke a token; it stops working at once (admin)."""
    return access.revoke_token(token_id)


@router.post("/webhooks", status_code=201, response_model=schemas.Row, responses=ERRORS)
def add_webhook(body: schemas.WebhookCreate, access: Access = Depends(get_access),
                header_key: str | None = IdempotencyHeader()):
    """A webhook subscription: signed deliveries of the chosen events, with retries (admin, integration)."""
    def run(d):
        reply = access.add_webhook(d["url"], d["events"], d["secret"])
        return {k: v for k, v in dict(reply).items() if k != "secret"}

    return reply(once(access, "POST /webhooks", body, header_key, run, _Passthrough))


class _Passthrough:
    @staticmethod
    def model_validate(value):
        return value
