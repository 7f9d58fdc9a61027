"""Part "sessions": the huddle board's sessions, by the hash of their secret, with the token each stands on."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.store.tables import BOARD_SESSION, TOKEN

BY_HASH = (sa.select(BOARD_SESSION.c.id, BOARD_SESSION.c.expires_at, BOARD_SESSION.c.ended_at,
                     TOKEN.c.id.label("token_id"), TOKEN.c.name, TOKEN.c.role, TOKEN.c.worker, TOKEN.c.team,
                     TOKEN.c.revoked_at, TOKEN.c.expires_at.label("token_expires_at"))
           .select_from(BOARD_SESSION.join(TOKEN, TOKEN.c.id == BOARD_SESSION.c.token_id))
           .where(BOARD_SESSION.c.session_hash == sa.bindparam("session_hash")))


class Sessions:
    """Board sessions on one connection (the same SQL on either database)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, session_hash: str, token_id: int, now: dt.datetime, expires_at: dt.datetime) -> int:
        return self.conn.execute(BOARD_SESSION.insert().values(
            session_hash=session_hash, token_id=token_id, created_at=now, expires_at=expires_at,
        ).returning(BOARD_SESSION.c.id)).scalar_one()

    def by_hash(self, session_hash: str) -> dict | None:
        """The session with its token's role, name, worker, team, revoked_at and expiry (token_expires_at);
        None if there is none."""
        row = self.conn.execute(BY_HASH, {"session_hash": session_hash}).mappings().first()
        return None if row is None else dict(row)

    def end(self, session_hash: str, now: dt.datetime) -> None:
        """Sign the session out (a session already ended keeps its first end)."""
        self.conn.execute(BOARD_SESSION.update().where(BOARD_SESSION.c.session_hash == session_hash,
                                                       BOARD_SESSION.c.ended_at.is_(None)).values(ended_at=now))
