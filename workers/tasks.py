"""Thin named tasks over the engine: ids and dates in, counts out; each one idempotent."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from pathway.errors import PathwayError
from workers.app import app

log = logging.getLogger("pathway.tasks")
_engine = None

# A database that is briefly unreachable is retried; a PathwayError (bad input) is not.
# Retry countdowns stay far below the visibility timeout (see workers/app.py).
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5}


def engine():
    """This process's engine on the configured database (made in the pool process, after the fork)."""
    global _engine
    if _engine is None:
        from pathway import Engine

        _engine = Engine(settings=app.pathway_settings, actor="worker")
    return _engine


@app.task(name="pathway.track_waits", **RETRY)
def track_waits(as_at: str | None = None, team: str | None = None) -> dict:
    """Snapshot the day's waits (back-filling missed days) and record new breaches with their alerts."""
    try:
        result = engine().track_waits(as_at=as_at, team=team)
    except PathwayError as exc:
        log.error("track_waits(as_at=%r, team=%r) refused: %s", as_at, team, exc.detail)
        raise
    log.info("track_waits: %s", result)
    return result


@app.task(name="pathway.dispatch_outbox", **RETRY)
def dispatch_outbox() -> dict:
    """Relay pending outbox rows into deliveries, then send one deliver_webhook task per due delivery.

    The tasks are sent only after the relay's transaction has committed: a task sent inside an
    open transaction could run before the rows it needs exist."""
    eng = engine()
    relayed = eng.relay_outbox()
    due = eng.due_deliveries()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    result = {"relayed": relayed["relayed"], "deliveries": len(relayed["deliveries"]), "sent": len(due)}
    log.info("dispatch_outbox: %s", result)
    return result


@app.task(name="pathway.deliver_webhook", **RETRY)
def deliver_webhook(delivery_id: int) -> dict:
    """Post one delivery if it is still due (a duplicate task finds it leased or delivered, and does nothing)."""
    return engine().send_deliveries(ids=[delivery_id])
