"""Webhooks' SQL: subscriptions, the outbox relay into deliveries, taking due deliveries, and the delivery log.

The SQLite form (:class:`Webhooks`) relays and takes deliveries under SQLite's up-front write lock
(``BEGIN IMMEDIATE``: writers take turns) with guarded updates. The PostgreSQL form
(:class:`PostgresWebhooks`) takes outbox rows and deliveries with ``FOR UPDATE SKIP LOCKED``, so
several workers relay and send side by side without taking the same row, and commits a lease or an
attempt without waiting for the disk flush.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pathway.store.tables import ATTEMPT, DELIVERY, OUTBOX, WEBHOOK

# What a listing shows of a subscription: everything but its secret.
PUBLIC_FIELDS = ("id", "url", "events", "active", "consecutive_failures", "paused_at", "paused_reason",
                 "created_at", "created_by")

PENDING = sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))
SUBSCRIBERS = sa.select(WEBHOOK.c.id, WEBHOOK.c.events)
LISTING = sa.select(*[WEBHOOK.c[k] for k in PUBLIC_FIELDS]).order_by(WEBHOOK.c.id)


def _new_deliveries(insert) -> sa.Insert:
    """A delivery exists once per (webhook, outbox row): a relay run twice adds nothing."""
    return insert(DELIVERY).on_conflict_do_nothing().returning(DELIVERY.c.id)


def _due(now: dt.datetime, limit: int | None) -> sa.Select:
    """Deliveries that may be sent now: pending, due, not leased, to an active subscriber; oldest first."""
    return (sa.select(DELIVERY.c.id).join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id)
            .where(DELIVERY.c.status == "pending", DELIVERY.c.next_attempt_at <= now, WEBHOOK.c.active,
                   sa.or_(DELIVERY.c.locked_until.is_(None), DELIVERY.c.locked_until <= now))
            .order_by(DELIVERY.c.id).limit(limit))


class Webhooks:
    """Subscriptions, the outbox relay, deliveries and their attempts on one connection (SQLite)."""

    NEW_DELIVERIES = _new_deliveries(sqlite.insert)

    def __init__(self, conn: Connection):
        self.conn = conn

    def _taking(self, q: sa.Select, of=None) -> sa.Select:
        """``q`` as a take of rows that no other relay or sender may take meanwhile (SQLite: the unit's
        write lock already does that)."""
        return q

    def relaxed_commit(self) -> None:
        """Let this unit's commit skip waiting for the disk (PostgreSQL; a no-op on SQLite)."""

    # subscriptions

    def add(self, row: dict) -> int:
        return self.conn.execute(WEBHOOK.insert().values(**row).returning(WEBHOOK.c.id)).scalar_one()

    def listing(self) -> list[dict]:
        """Every subscription, without its secret."""
        return [dict(r) for r in self.conn.execute(LISTING).mappings()]

    def resume(self, webhook_id: int, now: dt.datetime) -> bool:
        """Un-pause a subscriber and make its waiting deliveries due now; False if there is no such webhook."""
        if self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id)
                             .values(active=True, consecutive_failures=0, paused_at=None,
                                     paused_reason=None)).rowcount != 1:
            return False
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.webhook_id == webhook_id, DELIVERY.c.status == "pending")
                          .values(next_attempt_at=now, queued_at=None))
        return True

    def delivery_log(self, webhook_id: int | None = None) -> list[dict]:
        """Deliveries, each with its attempts under ``log`` (status code or error, and how long the post took)."""
        q = sa.select(DELIVERY).order_by(DELIVERY.c.id)
        if webhook_id is not None:
            q = q.where(DELIVERY.c.webhook_id == webhook_id)
        out = [dict(r) | {"log": []} for r in self.conn.execute(q).mappings()]
        by_id = {d["id"]: d for d in out}
        if by_id:
            attempts = self.conn.execute(sa.select(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(list(by_id)))
                                         .order_by(ATTEMPT.c.id)).mappings()
            for a in attempts:
                by_id[a["delivery_id"]]["log"].append(dict(a))
        return out

    # the outbox relay

    def pending(self) -> int:
        """How many outbox rows wait to be relayed."""
        return self.conn.execute(PENDING).scalar_one()

    def take_pending(self, batch: int) -> list[sa.Row]:
        """Up to ``batch`` pending outbox rows (id, kind), oldest first, taken by this relay alone."""
        q = (sa.select(OUTBOX.c.id, OUTBOX.c.kind).where(OUTBOX.c.sent_at.is_(None))
             .order_by(OUTBOX.c.id).limit(batch))
        return self.conn.execute(self._taking(q)).all()

    def subscribers(self) -> dict[str, list[int]]:
        """Each event kind's subscribers (paused ones too: their deliveries wait until they are resumed)."""
        out: dict[str, list[int]] = {}
        for hook in self.conn.execute(SUBSCRIBERS):
            for kind in hook.events:
                out.setdefault(kind, []).append(hook.id)
        return out

    def add_deliveries(self, rows: list[dict]) -> list[int]:
        """The deliveries in ``rows`` that did not exist yet; returns their ids."""
        return list(self.conn.execute(self.NEW_DELIVERIES, rows).scalars())

    def mark_sent(self, outbox_ids: list[int], now: dt.datetime) -> None:
        self.conn.execute(OUTBOX.update().where(OUTBOX.c.id.in_(outbox_ids), OUTBOX.c.sent_at.is_(None))
                          .values(sent_at=now, attempts=OUTBOX.c.attempts + 1))

    # taking deliveries

    def queue(self, now: dt.datetime, since: dt.datetime) -> list[int]:
        """The due deliveries whose task was not sent, or sent before ``since``, marked as queued ``now``."""
        q = _due(now, None).where(sa.or_(DELIVERY.c.queued_at.is_(None), DELIVERY.c.queued_at <= since))
        ids = list(self.conn.execute(self._taking(q, of=DELIVERY)).scalars())
        if ids:
            self.conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids)).values(queued_at=now))
        return ids

    def take_due(self, now: dt.datetime, ids: list[int] | None, limit: int) -> list[int]:
        """Due deliveries (those in ``ids``, or the oldest ones), taken by this sender alone."""
        q = _due(now, limit)
        if ids is not None:
            q = q.where(DELIVERY.c.id.in_(ids))
        return list(self.conn.execute(self._taking(q, of=DELIVERY)).scalars())

    def lease(self, ids: list[int], until: dt.datetime) -> list[dict]:
        """Lease the deliveries in ``ids`` until ``until``; returns what to post for each."""
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids)).values(locked_until=until))
        rows = self.conn.execute(
            sa.select(DELIVERY.c.id, DELIVERY.c.attempts, DELIVERY.c.webhook_id, DELIVERY.c.kind,
                      WEBHOOK.c.url, WEBHOOK.c.secret, OUTBOX.c.id.label("event_id"), OUTBOX.c.payload,
                      OUTBOX.c.created_at)
            .join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id).join(OUTBOX, OUTBOX.c.id == DELIVERY.c.outbox_id)
            .where(DELIVERY.c.id.in_(ids)).order_by(DELIVERY.c.id)).mappings()
        return [dict(r) for r in rows]

    # the answer of a post

    def log_attempt(self, row: dict) -> None:
        self.conn.execute(ATTEMPT.insert().values(**row))

    def delivered(self, delivery_id: int, webhook_id: int, attempt: int, status: int, now: dt.datetime) -> None:
        """The delivery arrived: done, and its subscriber's run of failures ends."""
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.id == delivery_id, DELIVERY.c.status == "pending")
                          .values(status="delivered", attempts=attempt, delivered_at=now, locked_until=None,
                                  last_status=status, last_error=None))
        self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.consecutive_failures > 0)
                          .values(consecutive_failures=0))

    def failed(self, delivery_id: int, webhook_id: int, attempt: int, status: int | None, error: str,
               next_attempt_at: dt.datetime, give_up: bool) -> int:
        """The delivery failed: retried at ``next_attempt_at`` or given up; returns its subscriber's
        consecutive failures, this one included."""
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.id == delivery_id, DELIVERY.c.status == "pending")
                          .values(status="failed" if give_up else "pending", attempts=attempt,
                                  next_attempt_at=next_attempt_at, locked_until=None, queued_at=None,
                                  last_status=status, last_error=error))
        return self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id)
                                 .values(consecutive_failures=WEBHOOK.c.consecutive_failures + 1)
                                 .returning(WEBHOOK.c.consecutive_failures)).scalar_one()

    def pause(self, webhook_id: int, now: dt.datetime, reason: str) -> bool:
        """Pause an active subscriber; False if it was paused already."""
        return bool(self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.active)
                                      .values(active=False, paused_at=now, paused_reason=reason)).rowcount)


class PostgresWebhooks(Webhooks):
    """PostgreSQL: rows are taken with ``FOR UPDATE SKIP LOCKED``; leases and attempts commit relaxed."""

    NEW_DELIVERIES = _new_deliveries(postgresql.insert)

    def _taking(self, q: sa.Select, of=None) -> sa.Select:
        # Another relay or sender skips the rows this one holds rather than waiting for them.
        return q.with_for_update(of=of, skip_locked=True)

    def relaxed_commit(self) -> None:
        # A crash could forget the last few milliseconds of the delivery log, which only means a
        # delivery is posted again (subscribers de-duplicate on X-Pathway-Delivery); the pathway's
        # own changes keep full durability.
        self.conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
