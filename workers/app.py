"""The Celery app, built from settings: Redis from PATHWAY_BROKER_URL, or eager (in-process) when none is set."""

from __future__ import annotations

from celery import Celery
from pydantic_settings import BaseSettings, SettingsConfigDict

from pathway.settings import Settings, load_settings


class WorkerSettings(BaseSettings):
    """The background work's own knobs (PATHWAY_<NAME> in the environment)."""

    model_config = SettingsConfigDict(env_prefix="PATHWAY_", extra="ignore")

    # Seconds Redis waits for an acknowledgement before it hands an unacknowledged task to
    # another worker. Longer than the longest task (track_waits back-filling a month on a large
    # council takes minutes), or a slow task runs twice (harmless, tasks are idempotent, but
    # wasted); short enough that work held by a killed worker comes back the same hour.
    visibility_timeout: int = 1800
    # Seconds between a worker's sweeps for tasks left unacknowledged past the visibility timeout
    # (kombu's default sweep is rare, about every 100 s, which is too slow with a short timeout).
    restore_interval: int = 60
    celery_queue: str = "pathway"  # the queue every task goes to (tests use their own)
    dispatch_interval: float = 10.0  # seconds between outbox relays (beat)
    track_waits_minute: int = 5  # track_waits runs hourly at this minute past the hour (beat)


def make_celery(settings: Settings | None = None, worker: WorkerSettings | None = None) -> Celery:
    """A Celery app for ``settings`` (default: load_settings()); eager when no broker is configured."""
    from workers.schedule import beat_schedule

    settings = settings or load_settings()
    worker = worker or WorkerSettings()
    app = Celery("pathway", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        # No broker: the embedded default runs each task in-process when it is sent, and a
        # task's error reaches the caller as it would from a plain function call.
        task_always_eager=settings.broker_url is None,
        task_eager_propagates=True,
        task_default_queue=worker.celery_queue,
        # No result backend: tasks write their results to the database, callers read them there.
        task_ignore_result=True,
        # Work that must not be lost: a task is acknowledged only after it has finished
        # (acks_late), so a worker killed mid-task leaves it unacknowledged and Redis redelivers it
        # after the visibility timeout; a task whose pool process dies is rejected back onto the
        # queue rather than acknowledged (reject_on_worker_lost); and each process reserves one
        # task at a time (prefetch 1), so a killed worker holds back at most the task it runs.
        # Redelivery means a task can run twice: every task is idempotent (guarded updates,
        # unique keys, INSERT … ON CONFLICT DO NOTHING).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": worker.visibility_timeout,
                                  "unacked_restore_interval": worker.restore_interval,
                                  "unacked_restore_throttle": 1},
        # Sending to a broker that is down fails within about a second rather than hanging a
        # command; the engine itself never sends (the outbox waits for the broker to return).
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                   "interval_max": 0.5},
        beat_schedule=beat_schedule(worker),
        timezone="Europe/London",
    )
    app.pathway_settings = settings  # what the tasks' engine is built from
    return app


app = make_celery()
