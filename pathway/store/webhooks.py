"""Webhooks' SQL: subscriptions, the outbox relay into the event feed and deliveries, the feed, taking due
deliveries in order, and the delivery log.

One relay runs at a time (on PostgreSQL an advisory lock held to its commit, on SQLite the write lock),
so the positions it gives outbox rows are the order in which they became visible: the event feed's
order (docs/decisions/0017-event-feed-order.md). Deliveries are taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several senders work side by side on disjoint batches, and only the first pending
delivery of an episode to a subscriber is taken (with the ones after it, leased to the same sender),
so an episode's events reach each subscriber in order.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pathway.store.tables import ATTEMPT, DELIVERY, OUTBOX, WEBHOOK

# What a listing shows of a subscription: everything but its secrets.
PUBLIC_FIELDS = ("id", "url", "events", "teams", "active", "consecutive_failures", "paused_at", "paused_reason",
                 "created_at", "created_by", "previous_secret_until", "secret_rotated_at", "secret_rotated_by")
# The advisory lock one relay at a time holds until it commits (PostgreSQL).
RELAY_LOCK = 0x7061_7468  # "path"

PENDING = sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))
LAST_POSITION = sa.select(sa.func.coalesce(sa.func.max(OUTBOX.c.position), 0))
SUBSCRIBERS = sa.select(WEBHOOK.c.id, WEBHOOK.c.events, WEBHOOK.c.teams)
LISTING = sa.select(*[WEBHOOK.c[k] for k in PUBLIC_FIELDS]).order_by(WEBHOOK.c.id)
_STILL_PENDING = (DELIVERY.c.id == sa.bindparam("b_id"), DELIVERY.c.status == "pending")
FAILED = DELIVERY.update().where(*_STILL_PENDING).values(
    status=sa.bindparam("v_outcome"), attempts=sa.bindparam("v_attempts"),
    next_attempt_at=sa.bindparam("v_next"), locked_until=None, last_status=sa.bindparam("v_status"),
    last_error=sa.bindparam("v_error"))
_PREVIOUS = DELIVERY.alias("previous")
# The episode's previous message to this subscriber is still pending: this one waits behind it (a probe
# of uq_delivery_once, whatever the table's statistics say).
BEHIND = sa.exists().where(_PREVIOUS.c.webhook_id == DELIVERY.c.webhook_id,
                           _PREVIOUS.c.outbox_id == DELIVERY.c.previous_outbox_id, _PREVIOUS.c.status == "pending")


def _new_deliveries(insert) -> sa.Insert:
    """A delivery exists once per (webhook, outbox row): a relay run twice adds nothing."""
    return insert(DELIVERY).on_conflict_do_nothing().returning(DELIVERY.c.id)


def _due(now: dt.datetime) -> sa.Select:
    """Deliveries that may be sent now: pending, due, not leased, to an active subscriber."""
    return (sa.select(DELIVERY.c.id, DELIVERY.c.webhook_id, DELIVERY.c.episode_id, DELIVERY.c.outbox_id)
            .join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id)
            .where(DELIVERY.c.status == "pending", DELIVERY.c.next_attempt_at <= now, WEBHOOK.c.active,
                   sa.or_(DELIVERY.c.locked_until.is_(None), DELIVERY.c.locked_until <= now)))


class Webhooks:
    """Subscriptions, the outbox relay, the feed, deliveries and their attempts on one connection (SQLite)."""

    NEW_DELIVERIES = _new_deliveries(sqlite.insert)

    def __init__(self, conn: Connection):
        self.conn = conn

    def _taking(self, q: sa.Select, of=None) -> sa.Select:
        """``q`` as a take of rows that no other sender may take meanwhile (SQLite: the unit's write lock
        already does that)."""
        return q

    def relaxed_commit(self) -> None:
        """Let this unit's commit skip waiting for the disk (PostgreSQL; a no-op on SQLite)."""

    # subscriptions

    def add(self, row: dict) -> int:
        return self.conn.execute(WEBHOOK.insert().values(**row).returning(WEBHOOK.c.id)).scalar_one()

    def listing(self, webhook_id: int | None = None) -> list[dict]:
        """Every subscription (or one), without its secrets."""
        q = LISTING if webhook_id is None else LISTING.where(WEBHOOK.c.id == webhook_id)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def resume(self, webhook_id: int, now: dt.datetime) -> bool:
        """Un-pause a subscriber and make its waiting deliveries due now; False if there is no such webhook."""
        if self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id)
                             .values(active=True, consecutive_failures=0, paused_at=None,
                                     paused_reason=None)).rowcount != 1:
            return False
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.webhook_id == webhook_id, DELIVERY.c.status == "pending")
                          .values(next_attempt_at=now))
        return True

    def rotate(self, webhook_id: int, secret: str, previous_until: dt.datetime, now: dt.datetime,
               actor: str) -> bool:
        """A new signing secret; the one it replaces keeps signing until ``previous_until``."""
        return self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id).values(
            previous_secret=WEBHOOK.c.secret, previous_secret_until=previous_until, secret=secret,
            secret_rotated_at=now, secret_rotated_by=actor)).rowcount == 1

    def delivery_log(self, webhook_id: int | None = None, status: str | None = None,
                     limit: int | None = None) -> list[dict]:
        """Deliveries (the latest ``limit``), oldest first, each with its attempts under ``log``."""
        q = sa.select(DELIVERY).order_by(DELIVERY.c.id.desc()).limit(limit)
        if webhook_id is not None:
            q = q.where(DELIVERY.c.webhook_id == webhook_id)
        if status is not None:
            q = q.where(DELIVERY.c.status == status)
        out = [dict(r) | {"log": []} for r in reversed(self.conn.execute(q).mappings().all())]
        by_id = {d["id"]: d for d in out}
        if by_id:
            attempts = self.conn.execute(sa.select(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(list(by_id)))
                                         .order_by(ATTEMPT.c.id)).mappings()
            for a in attempts:
                by_id[a["delivery_id"]]["log"].append(dict(a))
        return out

    def redeliver(self, webhook_id: int, delivery_id: int, now: dt.datetime, actor: str) -> bool:
        """Send a delivery again (whatever its status): pending and due now; False if there is no such one."""
        return self.conn.execute(DELIVERY.update().where(DELIVERY.c.id == delivery_id,
                                                         DELIVERY.c.webhook_id == webhook_id).values(
            status="pending", next_attempt_at=now, locked_until=None, redelivered_at=now,
            redelivered_by=actor)).rowcount == 1

    # the outbox relay

    def lock_relay(self) -> None:
        """Hold the relay's turn until this unit ends (SQLite: the write lock taken at BEGIN IMMEDIATE)."""

    def pending(self) -> int:
        """How many outbox rows wait to be relayed."""
        return self.conn.execute(PENDING).scalar_one()

    def take_pending(self, batch: int) -> list[sa.Row]:
        """Up to ``batch`` pending outbox rows (id, kind, episode_id, payload), oldest first."""
        q = (sa.select(OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.episode_id, OUTBOX.c.payload)
             .where(OUTBOX.c.sent_at.is_(None)).order_by(OUTBOX.c.id).limit(batch))
        return self.conn.execute(q).all()

    def last_position(self) -> int:
        """The feed's last position given so far (0 before the first)."""
        return self.conn.execute(LAST_POSITION).scalar_one()

    def subscribers(self) -> list[sa.Row]:
        """Every subscription's id, event kinds and teams (paused ones too: their deliveries wait)."""
        return self.conn.execute(SUBSCRIBERS).all()

    def last_relayed(self, webhook_ids: set[int], episode_ids: set[int]) -> dict[tuple[int, int], int]:
        """The last message relayed to each (webhook, episode) among these: its outbox id."""
        rows = self.conn.execute(
            sa.select(DELIVERY.c.webhook_id, DELIVERY.c.episode_id, sa.func.max(DELIVERY.c.outbox_id))
            .where(DELIVERY.c.webhook_id.in_(webhook_ids), DELIVERY.c.episode_id.in_(episode_ids))
            .group_by(DELIVERY.c.webhook_id, DELIVERY.c.episode_id))
        return {(w, e): last for w, e, last in rows}

    def add_deliveries(self, rows: list[dict]) -> list[int]:
        """The deliveries in ``rows`` that did not exist yet; returns their ids."""
        return list(self.conn.execute(self.NEW_DELIVERIES, rows).scalars())

    def place(self, ids: list[int], after: int, now: dt.datetime) -> None:
        """Mark relayed outbox rows sent, numbered in id order from ``after`` + 1 in the feed, each with its
        payload's team (one statement)."""
        numbered = (sa.select(OUTBOX.c.id, sa.func.row_number().over(order_by=OUTBOX.c.id).label("n"))
                    .where(OUTBOX.c.id.in_(ids)).subquery())
        self.conn.execute(OUTBOX.update().where(OUTBOX.c.id == numbered.c.id).values(
            position=after + numbered.c.n, team=OUTBOX.c.payload["team"].as_string(), sent_at=now,
            attempts=OUTBOX.c.attempts + 1))

    # the event feed

    def feed(self, after: int, limit: int, kinds: list[str] | None, team: str | None) -> tuple[int, list[dict]]:
        """The last position given now, and up to ``limit`` relayed messages after ``after`` up to it, in
        feed order. Read in this order, a position not seen yet is always above the first figure."""
        top = self.last_position()
        q = (sa.select(OUTBOX.c.id, OUTBOX.c.position, OUTBOX.c.kind, OUTBOX.c.created_at, OUTBOX.c.payload)
             .where(OUTBOX.c.position > after, OUTBOX.c.position <= top).order_by(OUTBOX.c.position).limit(limit))
        if kinds:
            q = q.where(OUTBOX.c.kind.in_(kinds))
        if team is not None:
            q = q.where(OUTBOX.c.team == team)
        return top, [dict(r) for r in self.conn.execute(q).mappings()]

    # taking deliveries

    def due_count(self, now: dt.datetime) -> int:
        """How many deliveries are due now (for how many senders to start)."""
        return self.conn.execute(sa.select(sa.func.count()).select_from(_due(now).subquery())).scalar_one()

    def take_due(self, now: dt.datetime, ids: list[int] | None, limit: int) -> list[int]:
        """Up to ``limit`` due deliveries (of ``ids``, or the oldest), taken by this sender alone: each the
        first pending one of its episode to its subscriber, followed by the due ones behind it."""
        # Inside the OR the check stays a probe per candidate (never a join over every pending row).
        q = (_due(now).where(sa.or_(DELIVERY.c.previous_outbox_id.is_(None), ~BEHIND))
             .order_by(DELIVERY.c.id).limit(limit))
        if ids is not None:
            q = q.where(DELIVERY.c.id.in_(ids))
        heads = self.conn.execute(self._taking(q, of=DELIVERY)).all()
        taken = [h.id for h in heads]
        chained = [h for h in heads if h.episode_id is not None]
        if not chained or len(taken) >= limit:
            return taken
        # No other sender can take these: each waits behind a head this one holds, and is leased with it.
        # A chain stops at the first that may not be sent yet (a retry waiting its turn, or leased).
        following = self.conn.execute(
            sa.select(DELIVERY.c.id, DELIVERY.c.webhook_id, DELIVERY.c.episode_id, DELIVERY.c.next_attempt_at,
                      DELIVERY.c.locked_until)
            .where(DELIVERY.c.status == "pending", DELIVERY.c.webhook_id.in_({h.webhook_id for h in chained}),
                   DELIVERY.c.episode_id.in_({h.episode_id for h in chained}), DELIVERY.c.id.not_in(taken))
            .order_by(DELIVERY.c.webhook_id, DELIVERY.c.episode_id, DELIVERY.c.outbox_id)).all()
        open_chains = {(h.webhook_id, h.episode_id) for h in chained}
        for row in following:
            key = (row.webhook_id, row.episode_id)
            if key not in open_chains or len(taken) >= limit:
                continue
            if row.next_attempt_at > now or (row.locked_until is not None and row.locked_until > now):
                open_chains.discard(key)
                continue
            taken.append(row.id)
        return taken

    def lease(self, ids: list[int], until: dt.datetime) -> list[dict]:
        """Lease the deliveries in ``ids`` until ``until``; returns what to post for each, in episode order."""
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids)).values(locked_until=until))
        rows = self.conn.execute(
            sa.select(DELIVERY.c.id, DELIVERY.c.attempts, DELIVERY.c.webhook_id, DELIVERY.c.kind,
                      DELIVERY.c.episode_id, WEBHOOK.c.url, WEBHOOK.c.secret, WEBHOOK.c.previous_secret,
                      WEBHOOK.c.previous_secret_until, OUTBOX.c.id.label("event_id"), OUTBOX.c.payload,
                      OUTBOX.c.created_at)
            .join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id).join(OUTBOX, OUTBOX.c.id == DELIVERY.c.outbox_id)
            .where(DELIVERY.c.id.in_(ids)).order_by(DELIVERY.c.outbox_id, DELIVERY.c.id)).mappings()
        return [dict(r) for r in rows]

    # the answers of a batch of posts

    def log_attempts(self, rows: list[dict]) -> None:
        self.conn.execute(ATTEMPT.insert(), rows)

    def delivered(self, rows: list[dict], now: dt.datetime) -> None:
        """Deliveries that arrived: ``rows`` of id, attempts, status (one statement per answer status)."""
        by_answer: dict[tuple[int, int], list[int]] = {}
        for r in rows:
            by_answer.setdefault((r["attempts"], r["status"]), []).append(r["id"])
        for (attempts, status), ids in by_answer.items():
            self.conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids), DELIVERY.c.status == "pending").values(
                status="delivered", attempts=attempts, delivered_at=now, locked_until=None, last_status=status,
                last_error=None))

    def failed(self, rows: list[dict]) -> None:
        """Deliveries that failed: ``rows`` of id, attempts, status, error, next attempt and outcome
        (``pending``: retried then; ``failed``: given up)."""
        self.conn.execute(FAILED, [{"b_id": r["id"], "v_attempts": r["attempts"], "v_status": r["status"],
                                    "v_error": r["error"], "v_next": r["next_attempt_at"],
                                    "v_outcome": r["outcome"]} for r in rows])

    def release(self, ids: list[int]) -> None:
        """Give back deliveries that were leased but not posted (they wait behind one that failed)."""
        self.conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids)).values(locked_until=None))

    def count_failures(self, webhook_id: int, failures: int, restart: bool) -> int:
        """The subscriber's run of consecutive failures: restarted at ``failures`` (a post arrived before
        them) or lengthened by them; returns the run."""
        value = failures if restart else WEBHOOK.c.consecutive_failures + failures
        return self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id)
                                 .values(consecutive_failures=value)
                                 .returning(WEBHOOK.c.consecutive_failures)).scalar_one()

    def pause(self, webhook_id: int, now: dt.datetime, reason: str) -> bool:
        """Pause an active subscriber; False if it was paused already."""
        return bool(self.conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.active)
                                      .values(active=False, paused_at=now, paused_reason=reason)).rowcount)


class PostgresWebhooks(Webhooks):
    """PostgreSQL: one relay at a time by an advisory lock; deliveries taken with ``FOR UPDATE SKIP LOCKED``;
    leases and attempts commit relaxed."""

    NEW_DELIVERIES = _new_deliveries(postgresql.insert)

    def _taking(self, q: sa.Select, of=None) -> sa.Select:
        # Another sender skips the rows this one holds rather than waiting for them.
        return q.with_for_update(of=of, skip_locked=True)

    def lock_relay(self) -> None:
        # Held to the commit: the next relay starts after this one's positions are visible, so positions
        # become visible in order (READ COMMITTED: its statements see this relay's commit).
        self.conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK})

    def relaxed_commit(self) -> None:
        # A crash could forget the last few milliseconds of the delivery log, which only means a
        # delivery is posted again (subscribers de-duplicate on webhook-id); the pathway's own changes
        # keep full durability.
        self.conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
