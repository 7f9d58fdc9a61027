"""API tokens and idempotent replies: tokens by hash, listing and revoking, and the first reply to a keyed request."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.store.tables import REQUEST, TOKEN

# What a listing shows of a token: everything but its hash.
PUBLIC_TOKEN_FIELDS = ("id", "name", "role", "worker", "team", "created_at", "created_by", "revoked_at", "expires_at")
PUBLIC_COLUMNS = [TOKEN.c[k] for k in PUBLIC_TOKEN_FIELDS]
BY_HASH = sa.select(TOKEN.c.id, TOKEN.c.name, TOKEN.c.role, TOKEN.c.worker, TOKEN.c.team, TOKEN.c.revoked_at,
                    TOKEN.c.expires_at)


class Tokens:
    """API tokens and the stored replies of idempotent requests, on one connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    # tokens

    def add(self, row: dict) -> int:
        return self.conn.execute(TOKEN.insert().values(**row).returning(TOKEN.c.id)).scalar_one()

    def by_hash(self, token_hash: str) -> dict | None:
        """The token with this hash (without the hash), revoked or not; None if there is none."""
        row = self.conn.execute(BY_HASH.where(TOKEN.c.token_hash == token_hash)).mappings().first()
        return None if row is None else dict(row)

    def by_id(self, token_id: int) -> dict | None:
        """The token's public record and whether it is revoked or expired; None if there is none."""
        row = self.conn.execute(sa.select(*PUBLIC_COLUMNS).where(TOKEN.c.id == token_id)).mappings().first()
        return None if row is None else dict(row)

    def listing(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sa.select(*PUBLIC_COLUMNS).order_by(TOKEN.c.id)).mappings()]

    def revoke(self, token_id: int, now: dt.datetime) -> dict | None:
        """Revoke the token (a revoked one keeps the time it was first revoked); its public record, or
        None if there is no such token."""
        row = self.conn.execute(sa.select(TOKEN.c.id, TOKEN.c.revoked_at).where(TOKEN.c.id == token_id)).first()
        if row is None:
            return None
        if row.revoked_at is None:
            self.conn.execute(TOKEN.update().where(TOKEN.c.id == token_id).values(revoked_at=now))
        return dict(self.conn.execute(sa.select(*PUBLIC_COLUMNS).where(TOKEN.c.id == token_id)).mappings().one())

    # idempotent replies, keyed by (actor, idempotency key)

    @staticmethod
    def _key(actor: str, key: str):
        return sa.and_(REQUEST.c.actor == actor, REQUEST.c.idempotency_key == key)

    def request(self, actor: str, key: str) -> sa.Row | None:
        """The request stored under the key: request_hash, status (0: still running), response, created_at."""
        return self.conn.execute(sa.select(REQUEST.c.request_hash, REQUEST.c.status, REQUEST.c.response,
                                           REQUEST.c.created_at).where(self._key(actor, key))).first()

    def reserve(self, actor: str, key: str, request_hash: str, now: dt.datetime) -> bool:
        """Reserve the key for a request now running; False if another request reserved it first
        (the unit of work must then end: on PostgreSQL the failed insert has aborted it)."""
        try:
            self.conn.execute(REQUEST.insert().values(actor=actor, idempotency_key=key, request_hash=request_hash,
                                                      status=0, response=None, created_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    def answer(self, actor: str, key: str, status: int, response) -> None:
        """Store the reply a retry of the request will get."""
        self.conn.execute(REQUEST.update().where(self._key(actor, key)).values(status=status, response=response))

    def forget(self, actor: str, key: str) -> None:
        """Free the key (its request failed, or died before it answered)."""
        self.conn.execute(REQUEST.delete().where(self._key(actor, key)))
