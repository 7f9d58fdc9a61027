"""The beat schedule: relay the outbox every few seconds, track waits every hour. Run exactly one beat."""

from __future__ import annotations

from celery.schedules import crontab

from pathway.settings import Workers


def beat_schedule(worker: Workers) -> dict:
    """What beat sends, and when."""
    return {
        # Delivery latency is at most this interval: the engine never sends to the broker itself.
        "dispatch-outbox": {"task": "pathway.dispatch_outbox", "schedule": worker.dispatch_interval},
        # Hourly, so a day's snapshot and new breaches appear within the hour; the snapshot for a
        # day is written once (later runs that day add only missing rows), missed days are back-filled.
        "track-waits": {"task": "pathway.track_waits", "schedule": crontab(minute=worker.track_waits_minute)},
    }
