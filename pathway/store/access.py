"""The access log: who read whose record, when and by which route."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.store.tables import ACCESS

LISTED = (ACCESS.c.id, ACCESS.c.at, ACCESS.c.actor, ACCESS.c.episode_id, ACCESS.c.route)


class Access:
    """Reads of people's records, on one connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def record(self, rows: list[dict]) -> None:
        """Add reads: each ``{at, actor, episode_id, route}``."""
        if rows:
            self.conn.execute(ACCESS.insert(), rows)

    def reads(self, *, episode_id: int | None = None, actor: str | None = None,
              since: dt.datetime | None = None, after_id: int = 0, limit: int = 100) -> list[dict]:
        """Reads, oldest first, after the read ``after_id``: of one episode, by one actor, since a time."""
        q = sa.select(*LISTED).where(ACCESS.c.id > after_id).order_by(ACCESS.c.id).limit(limit)
        if episode_id is not None:
            q = q.where(ACCESS.c.episode_id == episode_id)
        if actor is not None:
            q = q.where(ACCESS.c.actor == actor)
        if since is not None:
            q = q.where(ACCESS.c.at >= since)
        return [dict(r) for r in self.conn.execute(q).mappings()]
