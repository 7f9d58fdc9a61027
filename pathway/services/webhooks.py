"""Webhook subscriptions and delivery: Standard Webhooks posts, a delivery log, backoff, pausing a failing
subscriber, secret rotation and redelivery.

Deliveries follow the Standard Webhooks specification (https://www.standardwebhooks.com): the headers
``webhook-id`` (the same on every attempt: de-duplicate on it), ``webhook-timestamp`` (this attempt) and
``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` with the secret's key;
two signatures while a rotated-out secret still signs), and the body ``{type, timestamp, data}``.

A batch is taken with a lease in one transaction, posted with no transaction open, and its answers
recorded in another, so a slow subscriber never holds a database lock and a sender that dies mid-post
leaves deliveries that are simply retried when the lease runs out. Retries wait in the database
(``next_attempt_at``), not in the broker. An episode's deliveries to a subscriber go out in order: a
failed one holds back the ones behind it until it is delivered or given up.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable

from pathway.domain import checks
from pathway.domain.destinations import check_destination, mask
from pathway.domain.events import KINDS
from pathway.domain.stages import TRIGGERS
from pathway.errors import NotFound, ValidationError
from pathway.services.delivery_http import Poster, check_resolved
from pathway.settings import WebhookPolicy
from pathway.store.unit import Store, Unit

log = logging.getLogger("pathway.webhooks")

# Every kind of message the outbox carries: one per pathway trigger, per event kind that keeps the
# stage (pathway.domain.events.KINDS), and breach alerts.
EVENT_KINDS = tuple(f"episode.{t}" for t in ("record_contact", *TRIGGERS, *KINDS)) + ("breach",)
ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)  # a secret's key: at least 192 bits, as Standard Webhooks recommends
DELIVERY_STATUSES = ("pending", "delivered", "failed")
_poster = Poster()  # this process's connections, kept between batches


def delay(policy: WebhookPolicy, attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: backoff, 2×, 4×, … up to backoff_max."""
    return dt.timedelta(seconds=min(policy.backoff * 2 ** max(attempts - 1, 0), policy.backoff_max))


# -- secrets and signatures ----------------------------------------------------------------------

def new_secret() -> str:
    """A new signing secret in the whsec_ form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a whsec_ secret."""
    return base64.b64decode(secret[len(SECRET_PREFIX):])


def check_secret(secret) -> str:
    why = (f"a webhook secret is {SECRET_PREFIX} followed by {SECRET_BYTES[0]} to {SECRET_BYTES[1]} random bytes "
           "in base64 (the Standard Webhooks form); leave it out and the engine makes one")
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValidationError(why, field="secret")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(why, field="secret") from None
    if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
        raise ValidationError(why, field="secret")
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature: ``v1,`` and the base64 HMAC-SHA256 of ``msg_id.timestamp.body`` with the secret's key."""
    digest = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(job: dict, now: dt.datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and a rotated-out one until its time is up."""
    out = [job["secret"]]
    if job.get("previous_secret") and job.get("previous_secret_until") and job["previous_secret_until"] > now:
        out.append(job["previous_secret"])
    return out


def message_id(event_id: int) -> str:
    """A message's webhook-id: the same for every subscriber and attempt, and in the event feed."""
    return f"evt_{event_id}"


def message(kind: str, created_at: dt.datetime, data: dict) -> dict:
    """The Standard Webhooks payload (also each item of the event feed)."""
    return {"type": kind, "timestamp": created_at.isoformat(), "data": data}


def body(job: dict) -> bytes:
    """The JSON posted: the same bytes on every attempt of a delivery."""
    return json.dumps(message(job["kind"], job["created_at"], job["payload"]), sort_keys=True,
                      separators=(",", ":"), default=str).encode()


def headers(job: dict, data: bytes, now: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: the timestamp is this moment's (the receiver checks it
    against its own clock), the secrets those valid at ``now``."""
    msg_id, stamp = message_id(job["event_id"]), int(time.time())
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: " ".join(sign(s, msg_id, stamp, data) for s in signing_secrets(job, now))}


# -- subscriptions -------------------------------------------------------------------------------

def check_events(events) -> list[str]:
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    events = list(dict.fromkeys(events or []))
    if not events:
        raise ValidationError(f"a webhook needs at least one event kind; kinds are: {', '.join(EVENT_KINDS)}",
                              field="events")
    check_kinds(events, "events")
    return events


def check_kinds(kinds: list[str], field: str) -> list[str]:
    unknown = [e for e in kinds if e not in EVENT_KINDS]
    if unknown:
        raise ValidationError(f"unknown event kind {', '.join(map(repr, unknown))}; kinds are: "
                              f"{', '.join(EVENT_KINDS)}", field=field)
    return kinds


def check_teams(uow: Unit, teams) -> list[str] | None:
    """A subscriber's team filter: None (every team) or known team keys."""
    if teams is None:
        return None
    if isinstance(teams, str):
        teams = [t.strip() for t in teams.split(",") if t.strip()]
    teams = list(dict.fromkeys(teams))
    if not teams:
        raise ValidationError("a webhook's teams filter names at least one team (leave it out for every team)",
                              field="teams")
    known = {t["key"] for t in uow.episodes.teams()}
    unknown = [t for t in teams if t not in known]
    if unknown:
        raise ValidationError(checks.unknown_team(unknown[0], known), field="teams")
    return teams


def public(row: dict) -> dict:
    """A subscription as listings show it: no secret, the URL masked."""
    return {**row, "url": mask(row["url"])}


def add(uow: Unit, url: str, events, secret: str | None, actor: str, now: dt.datetime, policy: WebhookPolicy,
        teams=None) -> dict:
    """A subscription; with ``secret`` None the engine makes one, returned here once as ``secret``."""
    check_resolved(check_destination(url, policy.allow_hosts, policy.allow_http_hosts))
    events = check_events(events)
    made = secret is None
    secret = new_secret() if made else check_secret(secret)
    teams = check_teams(uow, teams)
    row = {"url": url, "events": events, "teams": teams, "secret": secret, "active": True,
           "consecutive_failures": 0, "created_at": now, "created_by": actor}
    row["id"] = uow.webhooks.add(row)
    log.info("webhook %s added for %s (%s) by %s", row["id"], mask(url), ", ".join(events), actor)
    out = public(uow.webhooks.listing(row["id"])[0])
    return out | {"secret": secret} if made else out


def listing(uow: Unit) -> list[dict]:
    """Every subscription, without its secrets, URLs masked."""
    return [public(h) for h in uow.webhooks.listing()]


def get(uow: Unit, webhook_id: int) -> dict:
    found = uow.webhooks.listing(webhook_id)
    if not found:
        raise NotFound(f"no webhook {webhook_id}", field="webhook")
    return public(found[0])


def resume(uow: Unit, webhook_id: int, now: dt.datetime) -> dict:
    """Un-pause a subscriber: its waiting deliveries are due at once and its failure count restarts."""
    if not uow.webhooks.resume(webhook_id, now):
        raise NotFound(f"no webhook {webhook_id}", field="webhook")
    log.info("webhook %s resumed", webhook_id)
    return get(uow, webhook_id)


def rotate(uow: Unit, webhook_id: int, secret: str | None, actor: str, now: dt.datetime,
           policy: WebhookPolicy, overlap: float | None = None) -> dict:
    """A new signing secret (made by the engine when ``secret`` is None, and returned once); the old one
    still signs, beside it, for ``overlap`` seconds (default: the policy's rotation_overlap)."""
    secret = new_secret() if secret is None else check_secret(secret)
    overlap = policy.rotation_overlap if overlap is None else overlap
    if not 0 <= overlap <= 30 * 86400:
        raise ValidationError("overlap is 0 to 2592000 seconds (30 days)", field="overlap")
    if not uow.webhooks.rotate(webhook_id, secret, now + dt.timedelta(seconds=overlap), now, actor):
        raise NotFound(f"no webhook {webhook_id}", field="webhook")
    log.info("webhook %s secret rotated by %s; the previous one signs for %s s more", webhook_id, actor, overlap)
    return get(uow, webhook_id) | {"secret": secret}


def delivery_log(uow: Unit, webhook_id: int | None = None, status: str | None = None,
                 limit: int | None = None) -> list[dict]:
    """Deliveries, each with its attempts (status code or error, and how long the post took)."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationError(f"unknown delivery status {status!r}; statuses are: {', '.join(DELIVERY_STATUSES)}",
                              field="status")
    if webhook_id is not None:
        get(uow, webhook_id)
    return uow.webhooks.delivery_log(webhook_id, status, limit)


def redeliver(uow: Unit, webhook_id: int, delivery_id: int, actor: str, now: dt.datetime) -> dict:
    """Send a delivery again, whatever its status: it is pending and due now."""
    get(uow, webhook_id)
    if not uow.webhooks.redeliver(webhook_id, delivery_id, now, actor):
        raise NotFound(f"webhook {webhook_id} has no delivery {delivery_id}", field="delivery")
    log.info("webhook %s delivery %s to be sent again, asked by %s", webhook_id, delivery_id, actor)
    return {"id": delivery_id, "webhook_id": webhook_id, "status": "pending", "next_attempt_at": now,
            "redelivered_at": now, "redelivered_by": actor}


# -- sending -------------------------------------------------------------------------------------

def claim(uow: Unit, now: dt.datetime, policy: WebhookPolicy, ids: list[int] | None = None) -> list[dict]:
    """Take a lease on a batch of due deliveries (of ``ids``, or the oldest) and return what to post."""
    taken = uow.webhooks.take_due(now, ids, policy.batch)
    if not taken:
        return []
    # Long enough for every post of the batch to time out in turn, so no lease runs out mid-batch.
    until = now + dt.timedelta(seconds=policy.lease + policy.timeout * len(taken))
    return uow.webhooks.lease(taken, until)


def post_batch(jobs: list[dict], policy: WebhookPolicy, clock: Callable[[], dt.datetime]) -> list[tuple]:
    """Post the batch: ``(job, status, error, ms, at)`` each, or ``(job, None, None, None, None)`` for one
    held back because an earlier message of its episode failed just now. An episode's messages are
    posted one after another, in order; different episodes' side by side, over a subscriber's pool of
    kept connections."""
    chains: dict[tuple, list[dict]] = {}
    for job in jobs:
        key = (job["webhook_id"], job["episode_id"]) if job["episode_id"] is not None else ("alone", job["id"])
        chains.setdefault(key, []).append(job)

    def post_chain(chain: list[dict]) -> list[tuple]:
        answers, failed = [], False
        for job in chain:
            if failed:
                answers.append((job, None, None, None, None))
                continue
            at = clock()
            data = body(job)
            status, error, ms = _poster.post(job["webhook_id"], job["url"], headers(job, data, at), data, policy)
            failed = error is not None
            answers.append((job, status, error, ms, at))
        return answers

    return [answer for chain in _poster.map(post_chain, list(chains.values())) for answer in chain]


def record(uow: Unit, answers: list[tuple], now: dt.datetime, policy: WebhookPolicy) -> dict:
    """Log the batch's attempts and move each delivery on: delivered, retried later, given up, or given
    back unposted; pause a subscriber whose run of failures reaches pause_after."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    attempts, delivered, failed, held = [], [], [], []
    runs: dict[int, list] = {}  # webhook id: [a post arrived in this batch, failures after the last that did]
    last_error: dict[int, str] = {}
    for job, status, error, ms, at in answers:
        if at is None:
            held.append(job["id"])
            continue
        attempt = job["attempts"] + 1
        run = runs.setdefault(job["webhook_id"], [False, 0])
        attempts.append({"delivery_id": job["id"], "attempt": attempt, "at": at, "status_code": status,
                         "error": error, "duration_ms": ms})
        if error is None:
            delivered.append({"id": job["id"], "attempts": attempt, "status": status})
            counts["delivered"] += 1
            run[:] = [True, 0]
            continue
        outcome = "failed" if attempt >= policy.max_attempts else "retry"
        counts[outcome] += 1
        run[1] += 1
        last_error[job["webhook_id"]] = error
        failed.append({"id": job["id"], "attempts": attempt, "status": status, "error": error,
                       "next_attempt_at": now + delay(policy, attempt),
                       "outcome": "failed" if outcome == "failed" else "pending"})
        log.warning("webhook %s delivery %s attempt %s to %s failed: %s%s", job["webhook_id"], job["id"], attempt,
                    mask(job["url"]), error, "; giving up" if outcome == "failed" else "")
    if attempts:
        uow.webhooks.log_attempts(attempts)
    if delivered:
        uow.webhooks.delivered(delivered, now)
    if failed:
        uow.webhooks.failed(failed)
    if held:
        uow.webhooks.release(held)
    for webhook_id, (arrived, failures) in runs.items():
        if not arrived and not failures:
            continue
        run = uow.webhooks.count_failures(webhook_id, failures, restart=arrived)
        if failures and run >= policy.pause_after:
            reason = f"{run} consecutive failed deliveries, the last: {last_error[webhook_id]}"[:500]
            if uow.webhooks.pause(webhook_id, now, reason):
                log.error("webhook %s paused after %s; its deliveries wait until it is resumed", webhook_id, reason)
    return counts


def send(store: Store, clock: Callable[[], dt.datetime], policy: WebhookPolicy | None = None,
         ids: list[int] | None = None) -> dict:
    """Send one batch of due deliveries (of ``ids``, or the oldest); returns counts by outcome.

    The lease is taken in one unit of work, the posts made with none open, and their answers
    recorded in another: a slow subscriber never holds a database lock."""
    policy = policy or WebhookPolicy()
    with store.unit() as uow:
        uow.webhooks.relaxed_commit()
        jobs = claim(uow, clock(), policy, ids=ids)
    if not jobs:
        return {"delivered": 0, "retry": 0, "failed": 0}
    answers = post_batch(jobs, policy, clock)
    with store.unit() as uow:
        uow.webhooks.relaxed_commit()
        return record(uow, answers, clock(), policy)


def due(uow: Unit, now: dt.datetime) -> int:
    return uow.webhooks.due_count(now)
