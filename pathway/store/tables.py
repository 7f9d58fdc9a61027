"""Every table of the engine, in one place: teams, workers, episodes (a projection), the append-only
event log, the outbox, API tokens and idempotent replies, wait snapshots and breaches, webhooks and
their deliveries, imported episodes' references and the working-day calendar.

Times are aware datetimes stored in UTC (timestamptz on PostgreSQL); the ``*_on`` columns
hold the Europe/London date of an instant, so reports count days in SQL on either database.
A person is only ever the back end's reference (``person_ref``): no names, no addresses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
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
    # An inactive worker keeps their record and caseload but takes no allocation (0010_firsthour).
    active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: dt.datetime
    created_by: str = Field(max_length=200)
    updated_at: dt.datetime | None = None  # the last change to the worker, and who made it
    updated_by: str | None = Field(default=None, max_length=200)
    # The workforce (0014_workforce): practitioner | manager; a line manager is a worker with role manager.
    role: str = Field(default="practitioner", max_length=16,
                      sa_column_kwargs={"server_default": "practitioner"})
    fte: float = Field(default=1.0, sa_column_kwargs={"server_default": "1"})
    line_manager: str | None = Field(default=None, foreign_key="worker.key", index=True, max_length=64)


class Episode(SQLModel, table=True):
    """The current state of one person's episode; rebuilt exactly by replaying its events."""

    __table_args__ = (
        Index("ix_episode_queue", "team", "stage"),
        # Waits on a past day look only at the episodes changed since (stage_at after the day) (0003_reports).
        Index("ix_episode_stage_at", "stage_at"),
        # The back end's own case id is unique in a team when given (0013_frontdoor).
        UniqueConstraint("team", "external_ref", name="uq_episode_team_external_ref"),
    )

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
    allocated_on: dt.date | None = None  # its London date, for the tray and case progression (0013_frontdoor)
    outcome: str | None = Field(default=None, max_length=64)
    closed_at: dt.datetime | None = None
    version: int
    external_ref: str | None = Field(default=None, max_length=64)  # the back end's own case id
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

    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "id"),
        # The event feed's order: given by the one relay at a time, so it is the order rows became visible
        # (0011_webhooks; docs/decisions/0017-event-feed-order.md).
        Index("ux_outbox_position", "position", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)  # e.g. "episode.refer", "breach"
    episode_id: int | None = None  # nothing looks messages up by episode: no index to keep up
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime
    sent_at: dt.datetime | None = None  # when the relay passed it on (its position and deliveries made)
    position: int | None = Field(default=None, sa_type=BigInteger)  # its place in the event feed, set by the relay
    team: str | None = Field(default=None, max_length=64)  # the payload's team, copied by the relay for filters
    attempts: int = 0
    last_error: str | None = None


class EpisodeProgress(SQLModel, table=True):
    """What the event kinds that keep the stage keep of an episode (pathway.domain.events.Progress): the
    open flag, the open next action, the last discussion and the last such event. A row only for an
    episode that has had one, written with its event; replaying the log rebuilds it exactly."""

    __tablename__ = "episode_progress"
    __table_args__ = (
        # The board's "for discussion" panel and the listing's flagged filter read the flagged ones only.
        Index("ix_episode_progress_flagged", "flagged_at"),
    )

    episode_id: int = Field(primary_key=True, foreign_key="episode.id")
    flagged_at: dt.datetime | None = None
    flag_reason: str | None = Field(default=None, max_length=500)
    next_action: str | None = Field(default=None, max_length=500)
    next_action_due: dt.date | None = None
    discussed_at: dt.datetime | None = None
    discussed_where: str | None = Field(default=None, max_length=16)
    discussed_on: dt.date | None = None  # the London date of discussed_at, for case progression's days
    last_at: dt.datetime | None = None  # the last event of these kinds


# -- the HTTP API --------------------------------------------------------------------------------

class ApiToken(SQLModel, table=True):
    """One bearer token: a role, bound to a worker (duty) or a team (manager); the secret is never stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)  # duty | manager | integration | admin
    worker: str | None = Field(default=None, foreign_key="worker.key", max_length=64)
    team: str | None = Field(default=None, foreign_key="team.key", max_length=64)
    token_hash: str = Field(unique=True, max_length=64)  # sha256 hex of the token
    created_at: dt.datetime
    created_by: str = Field(max_length=200)
    revoked_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None  # after this it no longer works (None: made before tokens expired)


class AccessRead(SQLModel, table=True):
    """One read of a person's episode, its events or a work tray by a token: who looked at whose record,
    when and by which route. Never a request's body."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_episode", "episode_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime
    actor: str = Field(max_length=200)
    episode_id: int  # no foreign key: the log outlives nothing it points at, and costs a read no lookup
    route: str = Field(max_length=200)


class ApiRequest(SQLModel, table=True):
    """The first reply to a write that carried an idempotency key, so a retry gets the same reply.

    Contacts and events keep their own keys in the event log; this is for the other writes
    (teams, workers, claims, webhooks, tokens). ``status`` 0 marks a request still running.
    """

    __tablename__ = "api_request"
    __table_args__ = (UniqueConstraint("actor", "idempotency_key", name="uq_api_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=200)
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: int = 0
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime


# -- background work: wait snapshots, breaches, webhooks and deliveries ---------------------------

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
    teams: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # None: every team
    # The signing key (whsec_…), needed in clear to sign; never returned by listings.
    secret: str = Field(max_length=500)
    # After a rotation the previous key also signs until previous_secret_until, so receivers can switch over.
    previous_secret: str | None = Field(default=None, max_length=500)
    previous_secret_until: dt.datetime | None = None
    secret_rotated_at: dt.datetime | None = None
    secret_rotated_by: str | None = Field(default=None, max_length=200)
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
        # An episode's deliveries to one subscriber, in order (0011_webhooks).
        Index("ix_delivery_chain", "webhook_id", "episode_id", "outbox_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    outbox_id: int = Field(foreign_key="outbox.id")
    episode_id: int | None = None  # the episode the message is about: its deliveries go out in order
    # The episode's previous message to this subscriber: while its delivery is pending, this one waits.
    previous_outbox_id: int | None = None
    kind: str = Field(max_length=64)
    status: str = Field(max_length=16)  # pending | delivered | failed (gave up)
    attempts: int = 0
    next_attempt_at: dt.datetime
    redelivered_at: dt.datetime | None = None  # sent again on request, by redelivered_by
    redelivered_by: str | None = Field(default=None, max_length=200)
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


# -- history import and the working-day calendar -------------------------------------------------

class EpisodeRef(SQLModel, table=True):
    """The back end's reference for an imported episode, so a re-import finds the episode again."""

    __tablename__ = "episode_ref"

    ref: str = Field(primary_key=True, max_length=64)
    episode_id: int = Field(foreign_key="episode.id", unique=True)
    imported_at: dt.datetime


class CalendarDay(SQLModel, table=True):
    """One date of the working-day calendar."""

    __tablename__ = "calendar_day"

    day: dt.date = Field(primary_key=True)
    is_working: bool
    working_index: int


# -- the workforce: skills, absences, supervision and their audit log (0014_workforce) ------------

class WorkerSkill(SQLModel, table=True):
    """A skill one worker carries (pathway.settings.Workforce.skills)."""

    __tablename__ = "worker_skill"

    worker: str = Field(foreign_key="worker.key", primary_key=True, max_length=64)
    skill: str = Field(primary_key=True, max_length=64)


class Absence(SQLModel, table=True):
    """A worker away from ``start`` to ``end`` (London dates, both included): a category, no medical detail."""

    __table_args__ = (Index("ix_absence_worker_start", "worker", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(foreign_key="worker.key", max_length=64)
    start: dt.date
    end: dt.date
    reason: str = Field(max_length=16)  # leave | sickness | training | other
    recorded_at: dt.datetime
    recorded_by: str = Field(max_length=200)
# -- scrutiny: case-file audits ------------------------------------------------------------------

class AuditSample(SQLModel, table=True):
    """One draw of episodes for case-file audit: the period, rate, strata and seed it was drawn with."""

    __tablename__ = "audit_sample"
    __table_args__ = (UniqueConstraint("period_from", "period_to", "rate", "stratify", "seed",
                                       name="uq_audit_sample_draw"),)

    id: int | None = Field(default=None, primary_key=True)
    period_from: dt.date
    period_to: dt.date
    rate: float
    stratify: str = Field(max_length=64)  # comma-separated strata, "" for none
    seed: int
    population: int  # episodes active or closed in the period
    drawn_at: dt.datetime
    drawn_by: str = Field(max_length=200)


class AuditSampled(SQLModel, table=True):
    """An episode drawn in a sample."""

    __tablename__ = "audit_sampled"

    sample_id: int = Field(foreign_key="audit_sample.id", primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", primary_key=True, index=True)
    stratum: str = Field(max_length=200)


class Audit(SQLModel, table=True):
    """A case-file audit of one episode: the rating, who audited it and when, the themes found."""

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", index=True)
    rating: str = Field(max_length=32)
    auditor: str = Field(max_length=200)
    audited_on: dt.date = Field(index=True)
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    in_sample: bool
    reason: str | None = Field(default=None, max_length=1000)  # why an episode outside the sample was audited
    recorded_at: dt.datetime
    recorded_by: str = Field(max_length=200)


class Supervision(SQLModel, table=True):
    """One supervision session: who, by whom, when, how long, whether its record was sampled. No notes."""

    __table_args__ = (Index("ix_supervision_worker_on", "worker", "on"),)

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(foreign_key="worker.key", max_length=64)
    supervisor: str = Field(foreign_key="worker.key", max_length=64)
    on: dt.date
    minutes: int
    sampled: bool = False
    recorded_at: dt.datetime
    recorded_by: str = Field(max_length=200)


class EpisodeWeight(SQLModel, table=True):
    """How much one episode weighs in its worker's caseload, when not 1 (settings.workforce.weighting)."""

    __tablename__ = "episode_weight"

    episode_id: int = Field(foreign_key="episode.id", primary_key=True)
    weight: float
    reason: str = Field(max_length=200)
    set_at: dt.datetime
    set_by: str = Field(max_length=200)


class WorkforceEvent(SQLModel, table=True):
    """The workforce's audit log: every change to skills, role, FTE, line management, absences and
    supervision, with who made it. Rows are inserted, never updated or deleted."""

    __tablename__ = "workforce_event"
    __table_args__ = (Index("ix_workforce_event_worker", "worker", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(max_length=64)
    # skills | role | fte | line_manager | absence | supervision | release_all | reweigh
    kind: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=200)
    recorded_at: dt.datetime


class BoardSession(SQLModel, table=True):
    """The huddle board signed in on one browser: its cookie holds the session's secret, stored only as a
    hash; the session lives while its token does, until it expires or is signed out."""

    __tablename__ = "board_session"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(unique=True, max_length=64)  # sha256 hex of the cookie's secret
    token_id: int = Field(foreign_key="api_token.id", index=True)
    created_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None = None  # signed out


# The tables as SQLAlchemy Core sees them: what every statement in the store is built from.
TEAM = Team.__table__
WORKER = Worker.__table__
EPISODE = Episode.__table__
EVENT = Event.__table__
PROGRESS = EpisodeProgress.__table__
OUTBOX = Outbox.__table__
TOKEN = ApiToken.__table__
REQUEST = ApiRequest.__table__
ACCESS = AccessRead.__table__
SNAPSHOT = WaitSnapshot.__table__
BREACH = Breach.__table__
WEBHOOK = Webhook.__table__
DELIVERY = Delivery.__table__
ATTEMPT = DeliveryAttempt.__table__
EPISODE_REF = EpisodeRef.__table__
CALENDAR = CalendarDay.__table__
WORKER_SKILL = WorkerSkill.__table__
ABSENCE = Absence.__table__
SUPERVISION = Supervision.__table__
WORKFORCE_EVENT = WorkforceEvent.__table__
EPISODE_WEIGHT = EpisodeWeight.__table__
AUDIT_SAMPLE = AuditSample.__table__
AUDIT_SAMPLED = AuditSampled.__table__
AUDIT = Audit.__table__
BOARD_SESSION = BoardSession.__table__
