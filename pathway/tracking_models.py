"""The background work's tables: daily wait snapshots, breaches, webhook subscriptions and their delivery log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class WaitSnapshot(SQLModel, table=True):
    """Who was waiting on one day, per team, client group and waiting stage (written by track_waits)."""

    __tablename__ = "wait_snapshot"
    __table_args__ = (UniqueConstraint("day", "team", "client_group", "stage", name="uq_wait_snapshot_key"),)

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date
    team: str = Field(max_length=64)
    client_group: str = Field(max_length=64)
    stage: str = Field(max_length=16)
    waiting: int
    median_days: float | None = None
    p90_days: float | None = None
    max_days: int | None = None
    over_threshold: int
    taken_at: dt.datetime  # when these figures were taken (today's rows are refreshed until the day ends)


class Breach(SQLModel, table=True):
    """An episode whose wait passed its threshold: recorded once per wait and threshold, with an alert."""

    __table_args__ = (
        UniqueConstraint("episode_id", "stage", "wait_from", "threshold_days", name="uq_breach_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", index=True)
    stage: str = Field(max_length=16)
    team: str = Field(max_length=64)
    client_group: str = Field(max_length=64)
    wait_from: dt.datetime  # start of the wait that breached (a release does not restart it)
    threshold_days: int
    days_waiting: int
    detected_on: dt.date
    detected_at: dt.datetime


class Webhook(SQLModel, table=True):
    """A subscriber: deliveries of the chosen event kinds to ``url``, signed with ``secret``."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The HMAC signing key, needed in clear to sign; never returned by listings.
    secret: str = Field(max_length=500)
    active: bool = True  # False: paused after repeated failures (or by hand); deliveries wait
    consecutive_failures: int = 0
    paused_at: dt.datetime | None = None
    paused_reason: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime
    created_by: str = Field(max_length=200)


class Delivery(SQLModel, table=True):
    """One outbox message for one subscriber; retried with backoff until delivered or given up."""

    __table_args__ = (
        UniqueConstraint("webhook_id", "outbox_id", name="uq_delivery_once"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    outbox_id: int = Field(foreign_key="outbox.id")
    kind: str = Field(max_length=64)
    status: str = Field(max_length=16)  # pending | delivered | failed (gave up)
    attempts: int = 0
    next_attempt_at: dt.datetime
    queued_at: dt.datetime | None = None  # when a deliver_webhook task was last sent for it
    locked_until: dt.datetime | None = None  # a sender's lease while it posts
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: every attempt with its answer."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    attempt: int
    at: dt.datetime
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    duration_ms: int
