"""Webhook subscriptions and delivery: signed JSON posts, a delivery log, backoff, and pausing a failing subscriber.

A delivery is taken with a short lease in one transaction, posted with no transaction open,
and its answer recorded in another, so a slow subscriber never holds a database lock and a
sender that dies mid-post leaves a delivery that is simply retried when the lease runs out
(subscribers de-duplicate on ``X-Pathway-Delivery``). Retries wait in the database
(``next_attempt_at``), not in the broker, so no task is ever scheduled past Redis's
visibility timeout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pathway.domain.stages import TRIGGERS
from pathway.errors import NotFound, ValidationError
from pathway.store.db import is_sqlite, unit_of_work
from pathway.store.tables import Delivery, DeliveryAttempt, Outbox, Webhook

log = logging.getLogger("pathway.webhooks")

OUTBOX = Outbox.__table__
WEBHOOK = Webhook.__table__
DELIVERY = Delivery.__table__
ATTEMPT = DeliveryAttempt.__table__

# Every kind of message the outbox carries: one per pathway trigger, and breach alerts.
EVENT_KINDS = tuple(f"episode.{t}" for t in ("record_contact", *TRIGGERS)) + ("breach",)
SIGNATURE_HEADER = "X-Pathway-Signature"
DELIVERY_HEADER = "X-Pathway-Delivery"
TIMESTAMP_HEADER = "X-Pathway-Timestamp"
EVENT_HEADER = "X-Pathway-Event"
PUBLIC_FIELDS = ("id", "url", "events", "active", "consecutive_failures", "paused_at", "paused_reason",
                 "created_at", "created_by")


@dataclasses.dataclass(frozen=True)
class Policy:
    """How hard to try: a post's timeout, the backoff between attempts, when to pause and give up."""

    timeout: float = 10.0  # seconds for one post
    backoff: float = 30.0  # seconds before the first retry; doubles each attempt
    backoff_max: float = 3600.0
    pause_after: int = 5  # consecutive failures of one subscriber before it is paused
    max_attempts: int = 10  # attempts of one delivery before it is given up ("failed")
    lease: float = 60.0  # seconds a sender holds a delivery while it posts
    requeue_after: float = 300.0  # seconds before a delivery whose task was sent may be sent again

    @classmethod
    def from_env(cls) -> Policy:
        """PATHWAY_WEBHOOK_TIMEOUT, _BACKOFF, _BACKOFF_MAX, _PAUSE_AFTER, _MAX_ATTEMPTS, _LEASE override defaults."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f"PATHWAY_WEBHOOK_{f.name.upper()}")
            if raw:
                values[f.name] = int(raw) if f.type == "int" else float(raw)
        return cls(**values)

    def delay(self, attempts: int) -> dt.timedelta:
        """Wait after the ``attempts``-th failed attempt: backoff, 2×, 4×, … up to backoff_max."""
        return dt.timedelta(seconds=min(self.backoff * 2 ** max(attempts - 1, 0), self.backoff_max))


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a subscriber does with the header (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header or "")


# -- subscriptions -------------------------------------------------------------------------------

def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"webhook url {url!r} must be an http:// or https:// URL with a host", field="url")
    if len(url) > 2000:
        raise ValidationError("webhook url is longer than 2000 characters", field="url")
    return url


def check_events(events) -> list[str]:
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    events = list(dict.fromkeys(events or []))
    if not events:
        raise ValidationError(f"a webhook needs at least one event kind; kinds are: {', '.join(EVENT_KINDS)}",
                              field="events")
    unknown = [e for e in events if e not in EVENT_KINDS]
    if unknown:
        raise ValidationError(f"unknown event kind {', '.join(map(repr, unknown))}; kinds are: "
                              f"{', '.join(EVENT_KINDS)}", field="events")
    return events


def add(conn: Connection, url: str, events, secret: str, actor: str, now: dt.datetime) -> dict:
    check_url(url)
    events = check_events(events)
    if not isinstance(secret, str) or not 16 <= len(secret) <= 500:
        raise ValidationError("a webhook secret is 16 to 500 characters (it is the key the signature is made with)",
                              field="secret")
    row = {"url": url, "events": events, "secret": secret, "active": True, "consecutive_failures": 0,
           "created_at": now, "created_by": actor}
    row["id"] = conn.execute(WEBHOOK.insert().values(**row).returning(WEBHOOK.c.id)).scalar_one()
    log.info("webhook %s added for %s (%s) by %s", row["id"], url, ", ".join(events), actor)
    return {k: row.get(k) for k in PUBLIC_FIELDS}


def listing(conn: Connection) -> list[dict]:
    """Every subscription, without its secret."""
    cols = [WEBHOOK.c[k] for k in PUBLIC_FIELDS]
    return [dict(r) for r in conn.execute(sa.select(*cols).order_by(WEBHOOK.c.id)).mappings()]


def resume(conn: Connection, webhook_id: int, now: dt.datetime) -> dict:
    """Un-pause a subscriber: its waiting deliveries are due at once and its failure count restarts."""
    if conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == webhook_id)
                    .values(active=True, consecutive_failures=0, paused_at=None, paused_reason=None)).rowcount != 1:
        raise NotFound(f"no webhook {webhook_id}", field="webhook")
    conn.execute(DELIVERY.update().where(DELIVERY.c.webhook_id == webhook_id, DELIVERY.c.status == "pending")
                 .values(next_attempt_at=now, queued_at=None))
    log.info("webhook %s resumed", webhook_id)
    return next(h for h in listing(conn) if h["id"] == webhook_id)


def delivery_log(conn: Connection, webhook_id: int | None = None) -> list[dict]:
    """Deliveries, each with its attempts (status code or error, and how long the post took)."""
    q = sa.select(DELIVERY).order_by(DELIVERY.c.id)
    if webhook_id is not None:
        q = q.where(DELIVERY.c.webhook_id == webhook_id)
    out = [dict(r) | {"log": []} for r in conn.execute(q).mappings()]
    by_id = {d["id"]: d for d in out}
    if by_id:
        attempts = conn.execute(sa.select(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(list(by_id)))
                                .order_by(ATTEMPT.c.id)).mappings()
        for a in attempts:
            by_id[a["delivery_id"]]["log"].append(dict(a))
    return out


# -- sending -------------------------------------------------------------------------------------

def due(conn: Connection, now: dt.datetime, limit: int | None = None) -> list[int]:
    """Deliveries that may be sent now: pending, due, not leased, to an active subscriber."""
    return list(conn.execute(_due(now, limit)).scalars())


def queue(conn: Connection, now: dt.datetime, policy: Policy) -> list[int]:
    """The due deliveries that have no task on its way, marked as queued: send a task for each
    after this transaction commits. A backlog in the broker is not queued again at every
    dispatch; a task that was lost is sent again after ``requeue_after``."""
    since = now - dt.timedelta(seconds=policy.requeue_after)
    q = _due(now, None).where(sa.or_(DELIVERY.c.queued_at.is_(None), DELIVERY.c.queued_at <= since))
    if not is_sqlite(conn):
        q = q.with_for_update(of=DELIVERY, skip_locked=True)
    ids = list(conn.execute(q).scalars())
    if ids:
        conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(ids)).values(queued_at=now))
    return ids


def _due(now: dt.datetime, limit: int | None) -> sa.Select:
    return (sa.select(DELIVERY.c.id).join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id)
            .where(DELIVERY.c.status == "pending", DELIVERY.c.next_attempt_at <= now, WEBHOOK.c.active,
                   sa.or_(DELIVERY.c.locked_until.is_(None), DELIVERY.c.locked_until <= now))
            .order_by(DELIVERY.c.id).limit(limit))


def claim(conn: Connection, now: dt.datetime, policy: Policy, ids: list[int] | None = None,
          limit: int = 100) -> list[dict]:
    """Take a lease on due deliveries (those in ``ids``, or the oldest due ones) and return what to post."""
    q = _due(now, limit)
    if ids is not None:
        q = q.where(DELIVERY.c.id.in_(ids))
    if not is_sqlite(conn):
        q = q.with_for_update(of=DELIVERY, skip_locked=True)
    taken = list(conn.execute(q).scalars())
    if not taken:
        return []
    # Long enough for every post of the batch to time out in turn, so no lease runs out mid-batch.
    until = now + dt.timedelta(seconds=policy.lease + policy.timeout * len(taken))
    conn.execute(DELIVERY.update().where(DELIVERY.c.id.in_(taken)).values(locked_until=until))
    rows = conn.execute(
        sa.select(DELIVERY.c.id, DELIVERY.c.attempts, DELIVERY.c.webhook_id, DELIVERY.c.kind,
                  WEBHOOK.c.url, WEBHOOK.c.secret, OUTBOX.c.id.label("event_id"), OUTBOX.c.payload,
                  OUTBOX.c.created_at)
        .join(WEBHOOK, WEBHOOK.c.id == DELIVERY.c.webhook_id).join(OUTBOX, OUTBOX.c.id == DELIVERY.c.outbox_id)
        .where(DELIVERY.c.id.in_(taken)).order_by(DELIVERY.c.id)).mappings()
    return [dict(r) for r in rows]


def body(job: dict) -> bytes:
    """The JSON posted: the same bytes on every attempt of a delivery."""
    message = {"delivery_id": job["id"], "event_id": job["event_id"], "kind": job["kind"],
               "created_at": job["created_at"].isoformat(), "data": job["payload"]}
    return json.dumps(message, sort_keys=True, separators=(",", ":"), default=str).encode()


def post(job: dict, policy: Policy) -> tuple[int | None, str | None, int]:
    """POST one delivery; returns (HTTP status or None, error text or None, milliseconds)."""
    data = body(job)
    headers = {"Content-Type": "application/json", "User-Agent": "pathway-webhooks/1",
               SIGNATURE_HEADER: sign(job["secret"], data), DELIVERY_HEADER: str(job["id"]),
               EVENT_HEADER: job["kind"], TIMESTAMP_HEADER: str(int(time.time()))}
    request = urllib.request.Request(job["url"], data=data, headers=headers, method="POST")
    started = time.perf_counter()
    status, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout) as response:
            status = response.status
            response.read(1024)
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}"[:1000]
    return status, error, int((time.perf_counter() - started) * 1000)


def record(conn: Connection, job: dict, status: int | None, error: str | None, ms: int,
           now: dt.datetime, policy: Policy) -> str:
    """Log the attempt and move the delivery on: delivered, retried later, given up; pause a failing subscriber."""
    attempt = job["attempts"] + 1
    ok = status is not None and 200 <= status < 300
    conn.execute(ATTEMPT.insert().values(delivery_id=job["id"], attempt=attempt, at=now, status_code=status,
                                         error=None if ok else (error or f"HTTP {status}"), duration_ms=ms))
    if ok:
        outcome = "delivered"
        conn.execute(DELIVERY.update().where(DELIVERY.c.id == job["id"], DELIVERY.c.status == "pending")
                     .values(status="delivered", attempts=attempt, delivered_at=now, locked_until=None,
                             last_status=status, last_error=None))
        conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == job["webhook_id"], WEBHOOK.c.consecutive_failures > 0)
                     .values(consecutive_failures=0))
        return outcome
    outcome = "failed" if attempt >= policy.max_attempts else "retry"
    conn.execute(DELIVERY.update().where(DELIVERY.c.id == job["id"], DELIVERY.c.status == "pending")
                 .values(status="failed" if outcome == "failed" else "pending", attempts=attempt,
                         next_attempt_at=now + policy.delay(attempt), locked_until=None, queued_at=None,
                         last_status=status, last_error=(error or f"HTTP {status}")[:1000]))
    log.warning("webhook %s delivery %s attempt %s to %s failed: %s%s", job["webhook_id"], job["id"], attempt,
                job["url"], error or f"HTTP {status}", "; giving up" if outcome == "failed" else "")
    failures = conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == job["webhook_id"])
                            .values(consecutive_failures=WEBHOOK.c.consecutive_failures + 1)
                            .returning(WEBHOOK.c.consecutive_failures)).scalar_one()
    if failures >= policy.pause_after:
        reason = f"{failures} consecutive failed deliveries, the last: {error or f'HTTP {status}'}"[:500]
        paused = conn.execute(WEBHOOK.update().where(WEBHOOK.c.id == job["webhook_id"], WEBHOOK.c.active)
                              .values(active=False, paused_at=now, paused_reason=reason)).rowcount
        if paused:
            log.error("webhook %s (%s) paused after %s; its deliveries wait until it is resumed",
                      job["webhook_id"], job["url"], reason)
    return outcome


def send(db: Engine, clock: Callable[[], dt.datetime], policy: Policy | None = None,
         ids: list[int] | None = None, limit: int = 100) -> dict:
    """Send due deliveries (``ids``, or the oldest due ones); returns counts by outcome."""
    policy = policy or Policy()
    with unit_of_work(db) as conn:
        _relaxed_commit(conn)
        jobs = claim(conn, clock(), policy, ids=ids, limit=limit)
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for job in jobs:
        status, error, ms = post(job, policy)
        with unit_of_work(db) as conn:
            _relaxed_commit(conn)
            counts[record(conn, job, status, error, ms, clock(), policy)] += 1
    return counts


def _relaxed_commit(conn: Connection) -> None:
    """PostgreSQL: do not wait for the disk flush when a lease or an attempt is committed. A crash
    could forget the last few milliseconds of the delivery log, which only means a delivery is
    posted again (subscribers de-duplicate on X-Pathway-Delivery); the pathway's own changes keep
    full durability."""
    if not is_sqlite(conn):
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
