"""The huddle board's sessions: a token pasted once opens a session on that browser; the cookie holds
only the session's own secret (stored as its hash), never the token.

A session lasts a working day (:data:`SESSION_HOURS`), ends when signed out, and dies with its token:
a token revoked or past its expiry ends every session opened with it. Why a session ended is kept, so the board can say
so instead of dropping a screen back to a bare sign-in form.
"""

from __future__ import annotations

import datetime as dt
import secrets

from pathway.domain import days
from pathway.services.auth import Access, Actor, Unauthorized, authenticate, hash_token

SESSION_HOURS = 12


class SessionEnded(Unauthorized):
    """The board's session expired, was signed out, or its token was revoked or expired."""

    code = "session_ended"


def open_session(engine, token: str, team: str) -> tuple[str, Actor]:
    """Sign the board of ``team`` in with ``token``: (the session's secret for the cookie, the actor).
    Unauthorized or Forbidden, and nothing stored, when the token may not open that board."""
    actor = authenticate(engine, token)
    Access(engine, actor).see_board(team)
    secret = secrets.token_urlsafe(32)
    now = engine.now()
    with engine.store.unit() as uow:
        uow.sessions.add(hash_token(secret), actor.token_id, now, now + dt.timedelta(hours=SESSION_HOURS))
    return secret, actor


def session_actor(engine, secret: str) -> Actor:
    """The Actor of a live session; SessionEnded saying why when it is not."""
    with engine.store.unit(write=False) as uow:
        row = uow.sessions.by_hash(hash_token(secret))
    if row is None:
        raise SessionEnded("this browser's board session is not known (it may have been cleared); "
                           "paste the token again")
    if row["ended_at"] is not None:
        raise SessionEnded("the board was signed out on this browser; paste the token to open it again")
    if row["revoked_at"] is not None:
        raise SessionEnded("the token this board was opened with has been revoked; ask for a new one")
    token_expires = row["token_expires_at"]
    if token_expires is not None and token_expires <= engine.now():
        raise SessionEnded(f"the token this board was opened with expired at {token_expires.isoformat()}; "
                           "ask for a new one")
    if row["expires_at"] <= engine.now():
        at = row["expires_at"].astimezone(days.LONDON).strftime("%H:%M on %d %b")
        raise SessionEnded(f"the board's session ended at {at}: a session lasts {SESSION_HOURS} hours. "
                           "Paste the token again to carry on")
    return Actor(role=row["role"], name=row["name"], worker=row["worker"], team=row["team"],
                 token_id=row["token_id"])


def close_session(engine, secret: str) -> None:
    """Sign the session out (nothing happens for an unknown or ended one)."""
    with engine.store.unit() as uow:
        uow.sessions.end(hash_token(secret), engine.now())
