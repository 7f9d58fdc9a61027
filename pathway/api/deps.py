"""What routes are given: the engine, the calling Actor (from a bearer token or the board's cookie), Access."""

from __future__ import annotations

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pathway.errors import Forbidden, ValidationError
from pathway.services.auth import Access, Actor, authenticate

COOKIE = "pathway_token"
# A write made with the board's cookie must also carry this header: a page on another site cannot
# add it, so a cookie alone never moves an episode (the cookie is SameSite=Strict as well).
BOARD_HEADER = "x-pathway-board"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def get_engine(request: Request):
    return request.app.state.engine


def bearer(request: Request) -> tuple[str | None, bool]:
    """The token and whether it came from the board's cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" else None), False
    cookie = request.cookies.get(COOKIE)
    return cookie, cookie is not None


# Declared so the OpenAPI document says how to authenticate; the header is read by ``bearer``.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from `pathway token create`")


def get_actor(request: Request, engine=Depends(get_engine),
              _credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> Actor:
    token, from_cookie = bearer(request)
    actor = authenticate(engine, token)
    if from_cookie and request.method not in SAFE_METHODS and request.headers.get(BOARD_HEADER) != "1":
        raise Forbidden("a write signed in by the board's cookie must send the header X-Pathway-Board: 1")
    request.state.actor = actor.label
    return actor


def get_access(engine=Depends(get_engine), actor: Actor = Depends(get_actor)) -> Access:
    return Access(engine, actor)


def idempotency_key(body_key: str | None,
                    header_key: str | None = None) -> str | None:
    """The key from the body or the Idempotency-Key header (they must agree when both are sent)."""
    if body_key is not None and header_key is not None and body_key != header_key:
        raise ValidationError("idempotency_key in the body and the Idempotency-Key header differ",
                              field="idempotency_key")
    return body_key if body_key is not None else header_key


def IdempotencyHeader():  # noqa: N802 - a fresh parameter declaration per use
    return Header(default=None, alias="Idempotency-Key", min_length=1, max_length=200,
                  description="same as the body's idempotency_key")
