"""What routes are given: the engine, the calling Actor (from a bearer token or the board's cookie), Access."""

from __future__ import annotations

import re

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pathway.api.schemas import MAX_INT
from pathway.errors import Forbidden, ValidationError
from pathway.services.auth import Access, Actor, authenticate
from pathway.services.sessions import session_actor

# The board's cookie holds its session's secret (pathway.services.sessions), never a token.
COOKIE = "pathway_board"
# A write made with the board's cookie must also carry this header: a page on another site cannot
# add it, so a cookie alone never moves an episode (the cookie is SameSite=Strict as well).
BOARD_HEADER = "x-pathway-board"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
GUARD_ACTOR = "pathway_actor"  # where pathway.api.guard leaves the Actor of a write it authenticated
# Set by the board's sign-in when it refused the token (it answers with a redirect, not a 401): the
# guard counts it as a refused sign-in all the same (pathway.api.guard.SignInLimit).
SIGN_IN_REFUSED = "pathway_sign_in_refused"


def get_engine(request: Request):
    return request.app.state.engine


def bearer_token(header: str | None, cookie: str | None) -> str | None:
    """The credential of a request: its Authorization header's bearer token, else the board's cookie
    (the secret of a board session)."""
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return cookie


def bearer(request: Request) -> tuple[str | None, bool]:
    """The bearer token, or else the board's session secret from its cookie, and whether it is the latter."""
    header = request.headers.get("authorization")
    cookie = None if header else request.cookies.get(COOKIE)
    return bearer_token(header, cookie), cookie is not None


def actor_of(engine, credential: str | None, from_cookie: bool) -> Actor:
    """The Actor of a bearer token, or of a live board session when the credential is the cookie's."""
    return session_actor(engine, credential) if from_cookie else authenticate(engine, credential)


# Declared so the OpenAPI document says how to authenticate; the header is read by ``bearer``.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from `pathway token create`")


def get_actor(request: Request, engine=Depends(get_engine),
              _credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> Actor:
    token, from_cookie = bearer(request)
    # A write was authenticated by the guard before its body was read (pathway.api.guard).
    actor = getattr(request.state, GUARD_ACTOR, None) or actor_of(engine, token, from_cookie)
    if from_cookie and request.method not in SAFE_METHODS and request.headers.get(BOARD_HEADER) != "1":
        raise Forbidden("a write signed in by the board's cookie must send the header X-Pathway-Board: 1")
    request.state.actor = actor.label
    return actor


def get_access(request: Request, engine=Depends(get_engine), actor: Actor = Depends(get_actor)) -> Access:
    return Access(engine, actor, route=f"{request.method} {request.url.path}")


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


# An episode's ETag is its version, quoted as RFC 9110 has it: "3". A weak form (W/"3") names the same one.
IF_MATCH_FORM = re.compile(r'(?:W/)?"([0-9]{1,10})"')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(header: str | None) -> int | None:
    """The version an If-Match header asks the write to start from (None: no header, or ``*``: any)."""
    if header is None or header.strip() == "*":
        return None
    found = IF_MATCH_FORM.fullmatch(header.strip())
    if found is None or int(found.group(1)) > MAX_INT:
        raise ValidationError(f"If-Match is the episode's ETag, one version in quotes such as \"3\" (or W/\"3\"), "
                              f"not {header[:40]!r}", field="If-Match")
    return int(found.group(1))


def IfMatchHeader():  # noqa: N802 - a fresh parameter declaration per use
    return Header(default=None, alias="If-Match", max_length=64,
                  description='the ETag of GET /episodes/{id}, e.g. "3": the move is applied only if the episode '
                              "is still at that version, else 412 and nothing is written")
