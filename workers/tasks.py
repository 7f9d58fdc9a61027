"""Thin named tasks over the engine: ids and dates in, counts out; each one idempotent."""

from __future__ import annotations

import logging

from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from pathway.errors import PathwayError
from workers.app import app

log = logging.getLogger("pathway.tasks")
_engine = None

# A database that is briefly unreachable is retried; a PathwayError (bad input) is not.
# Retry countdowns stay far below the visibility timeout (see workers/app.py).
CHUNK = 10  # deliveries per deliver_webhook task
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5}


def engine():
    """This process's engine on the configured database (made in the pool process, after the fork)."""
    global _engine
    if _engine is None:
        from pathway import Engine

        _engine = Engine(settings=app.pathway_settings, actor="worker", migrate=None)  # migrated at start
    return _engine


@worker_process_init.connect
def _warm(**_kwargs) -> None:
    """Each pool process makes its engine as it starts, not on its first task."""
    try:
        engine()
    except Exception:  # noqa: BLE001 - the first task will retry and report it
        log.warning("could not reach the database at worker start; tasks will retry", exc_info=True)


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
    """Relay pending outbox rows into deliveries, then send deliver_webhook tasks for the due deliveries,
    CHUNK at a time, so several workers share a burst without a broker round trip per delivery."""
    result = engine().dispatch_outbox(send=deliver_webhook.delay, chunk=CHUNK)
    log.info("dispatch_outbox: %s", result)
    return result


@app.task(name="pathway.deliver_webhook", **RETRY)
def deliver_webhook(delivery_ids: list[int] | int) -> dict:
    """Post deliveries that are still due (a duplicate task finds them leased or delivered, and does nothing)."""
    ids = [delivery_ids] if isinstance(delivery_ids, int) else list(delivery_ids)
    return engine().send_deliveries(ids=ids)
