"""The Celery app, built from settings: Redis from PATHWAY_BROKER_URL, or eager (in-process) when none is set."""

from __future__ import annotations

from celery import Celery

from pathway.settings import Settings, load_settings


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app for ``settings`` (default: load_settings()); eager when no broker is configured."""
    from workers.schedule import beat_schedule

    settings = settings or load_settings()
    worker = settings.workers
    app = Celery("pathway", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        # No broker: the embedded default runs each task in-process when it is sent, and a
        # task's error reaches the caller as it would from a plain function call.
        task_always_eager=settings.broker_url is None,
        task_eager_propagates=True,
        task_default_queue=worker.queue,
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
