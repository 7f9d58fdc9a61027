"""The nudge: after a change commits, ask a worker to relay the outbox now rather than at beat's next tick.

A burst of changes sends one relay, not one each: a nudge sends the task only if it can set a marker
key in Redis that is not set already, and the relay deletes the marker as it starts, before it reads
the outbox, so a change committed after the relay's read always sends a new one. The marker expires
after NUDGE_TTL seconds, so a task lost with the broker stops nothing for long; beat's relay every
``dispatch_interval`` is the safety net. A broker that is down never stops a change: the nudge fails
quietly (logged) and is not tried again for FAILED_PAUSE seconds.
"""

from __future__ import annotations

import logging
import time

from pathway.settings import Settings

log = logging.getLogger("pathway.nudge")

TASK = "pathway.dispatch_outbox"
NUDGE_TTL = 30  # seconds a marker holds back further nudges if its relay never runs
FAILED_PAUSE = 5.0  # seconds without nudges after the broker did not answer
TIMEOUT = 0.5  # seconds to wait for Redis: a change never waits long for a nudge


class Nudge:
    """Sends one relay task per burst of changes, when a broker is configured (else does nothing: the
    embedded default relays when asked, ``pathway dispatch-outbox``)."""

    def __init__(self, settings: Settings):
        self.broker_url = settings.broker_url
        self.queue = settings.workers.queue
        self.marker = f"pathway:nudge:{self.queue}"
        self._redis = None
        self._celery = None
        self._quiet_until = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.broker_url) and self.broker_url.startswith(("redis://", "rediss://"))

    def redis(self):
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.broker_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        return self._redis

    def celery(self):
        if self._celery is None:
            from celery import Celery

            app = Celery("pathway-nudge", broker=self.broker_url, set_as_current=False)
            app.conf.update(broker_connection_timeout=TIMEOUT, broker_connection_retry=False,
                            task_publish_retry=False, task_default_queue=self.queue)
            self._celery = app
        return self._celery

    def __call__(self) -> bool:
        """After a commit: send a relay unless one is on its way already; True if one was sent."""
        if not self.enabled or time.monotonic() < self._quiet_until:
            return False
        try:
            if not self.redis().set(self.marker, b"1", nx=True, ex=NUDGE_TTL):
                return False
        except Exception as exc:  # noqa: BLE001 - the change is committed; the outbox and beat carry on
            return self._failed(exc)
        try:
            self.celery().send_task(TASK, queue=self.queue)
            return True
        except Exception as exc:  # noqa: BLE001
            self.clear()
            return self._failed(exc)

    def _failed(self, exc: Exception) -> bool:
        self._quiet_until = time.monotonic() + FAILED_PAUSE
        log.warning("could not nudge the outbox relay (%s: %s); beat will relay it", type(exc).__name__, exc)
        return False

    def clear(self) -> None:
        """The relay starts: later changes send a new nudge."""
        if self.enabled:
            try:
                self.redis().delete(self.marker)
            except Exception as exc:  # noqa: BLE001 - the marker expires by itself
                log.warning("could not clear the nudge marker (%s: %s)", type(exc).__name__, exc)
