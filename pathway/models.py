"""The tables: teams, workers, episodes (a projection), the append-only event log and the outbox.

Times are aware datetimes stored in UTC (timestamptz on PostgreSQL); the ``*_on`` columns
hold the Europe/London date of an instant, so reports count days in SQL on either database.
A person is only ever the back end's reference (``person_ref``): no names, no addresses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Team(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: dt.datetime
    created_by: str = Field(max_length=200)


class Worker(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    team: str = Field(foreign_key="team.key", index=True, max_length=64)
    caseload_cap: int | None = None  # None: the configured default
    created_at: dt.datetime
    created_by: str = Field(max_length=200)


class Episode(SQLModel, table=True):
    """The current state of one person's episode; rebuilt exactly by replaying its events."""

    __table_args__ = (Index("ix_episode_queue", "team", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    person_ref: str = Field(index=True, max_length=64)
    client_group: str = Field(max_length=64)
    team: str = Field(foreign_key="team.key", max_length=64)
    priority: str = Field(max_length=16)
    route: str | None = Field(default=None, max_length=64)
    stage: str = Field(index=True, max_length=16)
    worker: str | None = Field(default=None, foreign_key="worker.key", index=True, max_length=64)
    contact_at: dt.datetime
    stage_at: dt.datetime  # when the current stage was entered
    wait_from: dt.datetime | None = None  # start of the current conversation's wait clock
    wait_from_on: dt.date | None = None  # its London date, for reports (0008_episode_wait_from_on)
    allocated_at: dt.datetime | None = None  # first allocation in the current conversation
    outcome: str | None = Field(default=None, max_length=64)
    closed_at: dt.datetime | None = None
    version: int
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)


class Event(SQLModel, table=True):
    """One immutable entry of the log. Rows are inserted, never updated or deleted."""

    __table_args__ = (
        UniqueConstraint("episode_id", "seq", name="uq_event_episode_seq"),
        UniqueConstraint("episode_id", "idempotency_key", name="uq_event_episode_idempotency"),
        Index("ix_event_trigger_on", "trigger", "occurred_on"),
        Index("ix_event_occurred_on", "occurred_on"),  # a period's events, for reports (0007_report_indexes)
    )

    id: int | None = Field(default=None, primary_key=True)
    # Found by episode through uq_event_episode_seq (episode_id leads it): no index of its own.
    episode_id: int = Field(foreign_key="episode.id")
    seq: int
    trigger: str = Field(max_length=32)
    from_stage: str | None = Field(default=None, max_length=16)
    to_stage: str = Field(max_length=16)
    occurred_at: dt.datetime
    occurred_on: dt.date  # London date of occurred_at
    recorded_at: dt.datetime
    actor: str = Field(max_length=200)
    worker: str | None = Field(default=None, max_length=64)
    outcome: str | None = Field(default=None, max_length=64)
    note: str | None = None
    # After this event: when the conversation's wait clock started (for reports of waits and allocation).
    wait_from: dt.datetime | None = None
    wait_from_on: dt.date | None = None
    first_allocation: bool = False  # an allocate that ends a wait (not a re-allocation after release)
    allocation: str | None = Field(default=None, max_length=16)  # "self" or "manager"
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)


class Outbox(SQLModel, table=True):
    """Messages for the outside world, written in the same transaction as the change they report."""

    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)  # e.g. "episode.refer", "breach"
    episode_id: int | None = None  # nothing looks messages up by episode: no index to keep up
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    attempts: int = 0
    last_error: str | None = None


from pathway import auth_models as _auth_models  # noqa: E402,F401  (API tokens, idempotent replies)
from pathway import tracking_models as _tracking_models  # noqa: E402,F401  (wait snapshots, breaches, webhooks)
