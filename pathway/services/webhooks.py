"""Webhook subscriptions and delivery: signed JSON posts, a delivery log, backoff, and pausing a failing subscriber.

A delivery is taken with a short lease in one transaction, posted with no transaction open,
and its answer recorded in another, so a slow subscriber never holds a database lock and a
sender that dies mid-post leaves a delivery that is simply retried when the lease runs out
(subscribers de-duplicate on ``X-Pathway-Delivery``). Retries wait in the database
(``next_attempt_at``), not in the broker, so no task is ever scheduled past Redis's
visibility timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from pathway.domain.episode import KEEPS_STAGE
from pathway.domain.events import KINDS
from pathway.domain.stages import TRIGGERS
from pathway.errors import NotFound, ValidationError
from pathway.settings import WebhookPolicy
from pathway.store.unit import Store, Unit
from pathway.store.webhooks import PUBLIC_FIELDS

log = logging.getLogger("pathway.webhooks")

# Every kind of message the outbox carries: one per pathway trigger, per event kind that keeps the
# stage (pathway.domain.events.KINDS, and the conversations and welfare checks of KEEPS_STAGE), and
# breach alerts.
EVENT_KINDS = tuple(f"episode.{t}" for t in ("record_contact", *TRIGGERS, *KINDS, *KEEPS_STAGE)) + ("breach",)
SIGNATURE_HEADER = "X-Pathway-Signature"
DELIVERY_HEADER = "X-Pathway-Delivery"
TIMESTAMP_HEADER = "X-Pathway-Timestamp"
EVENT_HEADER = "X-Pathway-Event"


def delay(policy: WebhookPolicy, attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: backoff, 2×, 4×, … up to backoff_max."""
    return dt.timedelta(seconds=min(policy.backoff * 2 ** max(attempts - 1, 0), policy.backoff_max))


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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


def add(uow: Unit, url: str, events, secret: str, actor: str, now: dt.datetime) -> dict:
    check_url(url)
    events = check_events(events)
    if not isinstance(secret, str) or not 16 <= len(secret) <= 500:
        raise ValidationError("a webhook secret is 16 to 500 characters (it is the key the signature is made with)",
                              field="secret")
    row = {"url": url, "events": events, "secret": secret, "active": True, "consecutive_failures": 0,
           "created_at": now, "created_by": actor}
    row["id"] = uow.webhooks.add(row)
    log.info("webhook %s added for %s (%s) by %s", row["id"], url, ", ".join(events), actor)
    return {k: row.get(k) for k in PUBLIC_FIELDS}


def listing(uow: Unit) -> list[dict]:
    """Every subscription, without its secret."""
    return uow.webhooks.listing()


def resume(uow: Unit, webhook_id: int, now: dt.datetime) -> dict:
    """Un-pause a subscriber: its waiting deliveries are due at once and its failure count restarts."""
    if not uow.webhooks.resume(webhook_id, now):
        raise NotFound(f"no webhook {webhook_id}", field="webhook")
    log.info("webhook %s resumed", webhook_id)
    return next(h for h in uow.webhooks.listing() if h["id"] == webhook_id)


def delivery_log(uow: Unit, webhook_id: int | None = None) -> list[dict]:
    """Deliveries, each with its attempts (status code or error, and how long the post took)."""
    return uow.webhooks.delivery_log(webhook_id)


# -- sending -------------------------------------------------------------------------------------

def queue(uow: Unit, now: dt.datetime, policy: WebhookPolicy) -> list[int]:
    """The due deliveries that have no task on its way, marked as queued: send a task for each
    after this unit of work commits. A backlog in the broker is not queued again at every
    dispatch; a task that was lost is sent again after ``requeue_after``."""
    return uow.webhooks.queue(now, since=now - dt.timedelta(seconds=policy.requeue_after))


def claim(uow: Unit, now: dt.datetime, policy: WebhookPolicy, ids: list[int] | None = None,
          limit: int = 100) -> list[dict]:
    """Take a lease on due deliveries (those in ``ids``, or the oldest due ones) and return what to post."""
    taken = uow.webhooks.take_due(now, ids, limit)
    if not taken:
        return []
    # Long enough for every post of the batch to time out in turn, so no lease runs out mid-batch.
    until = now + dt.timedelta(seconds=policy.lease + policy.timeout * len(taken))
    return uow.webhooks.lease(taken, until)


def body(job: dict) -> bytes:
    """The JSON posted: the same bytes on every attempt of a delivery."""
    message = {"delivery_id": job["id"], "event_id": job["event_id"], "kind": job["kind"],
               "created_at": job["created_at"].isoformat(), "data": job["payload"]}
    return json.dumps(message, sort_keys=True, separators=(",", ":"), default=str).encode()


def post(job: dict, policy: WebhookPolicy) -> tuple[int | None, str | None, int]:
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


def record(uow: Unit, job: dict, status: int | None, error: str | None, ms: int,
           now: dt.datetime, policy: WebhookPolicy) -> str:
    """Log the attempt and move the delivery on: delivered, retried later, given up; pause a failing subscriber."""
    attempt = job["attempts"] + 1
    ok = status is not None and 200 <= status < 300
    uow.webhooks.log_attempt({"delivery_id": job["id"], "attempt": attempt, "at": now, "status_code": status,
                              "error": None if ok else (error or f"HTTP {status}"), "duration_ms": ms})
    if ok:
        uow.webhooks.delivered(job["id"], job["webhook_id"], attempt, status, now)
        return "delivered"
    outcome = "failed" if attempt >= policy.max_attempts else "retry"
    failures = uow.webhooks.failed(job["id"], job["webhook_id"], attempt, status,
                                   (error or f"HTTP {status}")[:1000], now + delay(policy, attempt),
                                   give_up=outcome == "failed")
    log.warning("webhook %s delivery %s attempt %s to %s failed: %s%s", job["webhook_id"], job["id"], attempt,
                job["url"], error or f"HTTP {status}", "; giving up" if outcome == "failed" else "")
    if failures >= policy.pause_after:
        reason = f"{failures} consecutive failed deliveries, the last: {error or f'HTTP {status}'}"[:500]
        if uow.webhooks.pause(job["webhook_id"], now, reason):
            log.error("webhook %s (%s) paused after %s; its deliveries wait until it is resumed",
                      job["webhook_id"], job["url"], reason)
    return outcome


def send(store: Store, clock: Callable[[], dt.datetime], policy: WebhookPolicy | None = None,
         ids: list[int] | None = None, limit: int = 100) -> dict:
    """Send due deliveries (``ids``, or the oldest due ones); returns counts by outcome.

    The lease is taken in one unit of work, each post made with none open, and its answer
    recorded in another: a slow subscriber never holds a database lock."""
    policy = policy or WebhookPolicy()
    with store.unit() as uow:
        uow.webhooks.relaxed_commit()
        jobs = claim(uow, clock(), policy, ids=ids, limit=limit)
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for job in jobs:
        status, error, ms = post(job, policy)
        with store.unit() as uow:
            uow.webhooks.relaxed_commit()
            counts[record(uow, job, status, error, ms, clock(), policy)] += 1
    return counts
