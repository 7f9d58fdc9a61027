"""What the event kinds that keep the stage keep of an episode (``episode_progress``), and the reads
built on it: the work tray, the listing of episodes, the front door and case progression."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain import duty as rules
from pathway.domain.episode import EpisodeState
from pathway.domain.events import PROGRESS_FIELDS, Progress
from pathway.domain.stages import ACTIVE
from pathway.store import reports as rp
from pathway.store.db import driven
from pathway.store.episodes import STATE_COLUMNS
from pathway.store.tables import EPISODE, EVENT, PROGRESS

FRONT_DOOR_STAGE = "contact"

LOAD = sa.select(*(PROGRESS.c[name] for name in PROGRESS_FIELDS)).where(
    PROGRESS.c.episode_id == sa.bindparam("b_id"))
_VALUES = {name: sa.bindparam(f"p_{name}", type_=PROGRESS.c[name].type) for name in (*PROGRESS_FIELDS, "discussed_on")}
UPDATE = PROGRESS.update().where(PROGRESS.c.episode_id == sa.bindparam("b_id")).values(_VALUES)
INSERT = PROGRESS.insert().values(episode_id=sa.bindparam("b_id"), **_VALUES)


# -- the front door, the work tray and the listing of episodes -------------------------------------

# A team's contacts waiting for a decision (parameters: team, limit): crises first, then in order of
# arrival (pathway.domain.duty.front_door_key, as SQL), through ix_episode_queue (team, stage).
FRONT_DOOR = (sa.select(*STATE_COLUMNS)
              .where(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage == FRONT_DOOR_STAGE)
              .order_by(sa.case((EPISODE.c.priority == rules.CRISIS_PRIORITY, rules.CRISIS_RANK), else_=1),
                        EPISODE.c.contact_at, EPISODE.c.id)
              .limit(sa.bindparam("limit")))

# The episode's last event is the one whose seq is the episode's version (uq_event_episode_seq finds it).
LAST = EVENT.alias("last_event")
_WITH_LAST = EPISODE.join(LAST, sa.and_(LAST.c.episode_id == EPISODE.c.id, LAST.c.seq == EPISODE.c.version))
_PROGRESS_COLUMNS = [PROGRESS.c[name] for name in PROGRESS_FIELDS]
_EXTRA = [LAST.c.trigger.label("last_trigger"), LAST.c.occurred_at.label("last_event_at"),
          LAST.c.occurred_on.label("last_event_on")]
# An episode with its last event and its progress.
_CASEWORK = (sa.select(*STATE_COLUMNS, *_EXTRA, *_PROGRESS_COLUMNS)
             .select_from(_WITH_LAST.outerjoin(PROGRESS, PROGRESS.c.episode_id == EPISODE.c.id)))
# The huddle's "for discussion": the team's flagged episodes, the oldest flag first (parameters: team, limit).
FOR_DISCUSSION = (_CASEWORK.where(EPISODE.c.team == sa.bindparam("team"), PROGRESS.c.flagged_at.is_not(None),
                                  EPISODE.c.stage != "closed")
                  .order_by(PROGRESS.c.flagged_at, EPISODE.c.id).limit(sa.bindparam("limit")))
# A worker's active episodes, the oldest allocation first (parameter: worker), through ix_episode_worker.
TRAY = (_CASEWORK.where(EPISODE.c.worker == sa.bindparam("worker"), rp.one_of(EPISODE.c.stage, ACTIVE))
        .order_by(EPISODE.c.allocated_at, EPISODE.c.id))


@functools.lru_cache(maxsize=64)
def standing_still_select(cutoffs: tuple[tuple[str, dt.date], ...]) -> sa.Select:
    """The team's active episodes with no event since their stage's cutoff date, or an overdue next action,
    the longest still first (parameters: team, today, limit)."""
    stale = sa.or_(*(sa.and_(EPISODE.c.stage == rp.text_value(stage), LAST.c.occurred_on <= rp.date_param(cutoff))
                     for stage, cutoff in cutoffs))
    overdue = PROGRESS.c.next_action_due < sa.bindparam("today", type_=sa.Date())
    return (_CASEWORK.where(EPISODE.c.team == sa.bindparam("team"), rp.one_of(EPISODE.c.stage, ACTIVE),
                            sa.or_(stale, overdue))
            .order_by(LAST.c.occurred_on, EPISODE.c.id).limit(sa.bindparam("limit")))


def _row(row) -> tuple[EpisodeState, dict, Progress]:
    """An episode, its last event and its Progress from a row of STATE_COLUMNS, _EXTRA and the progress columns."""
    n, m = len(STATE_COLUMNS), len(_EXTRA)
    state = EpisodeState(*row[:n])
    last = dict(zip(("trigger", "occurred_at", "occurred_on"), row[n:n + m], strict=True))
    return state, last, Progress(*row[n + m:])


@dataclasses.dataclass(frozen=True)
class Listing:
    """What an episode listing asks: each filter None for any; ``stale_before``: the last event's London
    date is before it; ``after``: the cursor (the last id of the page before)."""

    team: str | None = None
    worker: str | None = None
    stage: str | None = None
    client_group: str | None = None
    flagged: bool | None = None
    stale_before: dt.date | None = None
    person_ref: str | None = None
    external_ref: str | None = None
    after: int | None = None
    limit: int = 50


LISTED_BY = ("team", "worker", "stage", "client_group", "person_ref", "external_ref")


@functools.lru_cache(maxsize=256)
def listing_select(given: tuple[str, ...], flagged: bool | None) -> sa.Select:
    """Episodes by id after the cursor (parameter ``after``), at most ``limit``, filtered by the ``given``
    columns (parameters of their names) and ``stale_before``: the id is the cursor, so a page is stable
    under concurrent writes (a new episode has a higher id, a move keeps its id). Built once per shape."""
    q = _CASEWORK
    for name in given:
        if name in LISTED_BY:
            q = q.where(EPISODE.c[name] == sa.bindparam(name))
    if flagged is not None:
        q = q.where(PROGRESS.c.flagged_at.is_not(None) if flagged else PROGRESS.c.flagged_at.is_(None))
    if "stale_before" in given:  # no event since before this London date, and still open
        q = q.where(LAST.c.occurred_on < sa.bindparam("stale_before", type_=sa.Date()), EPISODE.c.stage != "closed")
    if "after" in given:
        q = q.where(EPISODE.c.id > sa.bindparam("after"))
    return q.order_by(EPISODE.c.id).limit(sa.bindparam("limit"))


class Progression:
    """The episode_progress rows, and the reads over episodes with their progress, on one connection
    (the same SQL on both databases)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def load(self, episode_id: int) -> Progress:
        row = self.conn.execute(LOAD, {"b_id": episode_id}).first()
        return Progress() if row is None else Progress(*row)

    def save(self, episode_id: int, progress: Progress) -> None:
        """Write the episode's Progress. The episode row's guarded update in the same unit of work holds
        the episode, so no other writer can insert its row meanwhile."""
        params = {"b_id": episode_id, **{f"p_{name}": getattr(progress, name) for name in PROGRESS_FIELDS}}
        params["p_discussed_on"] = days.london_date(progress.discussed_at) if progress.discussed_at else None
        if self.conn.execute(UPDATE, params).rowcount == 0:
            self.conn.execute(INSERT, params)

    def front_door(self, team: str, limit: int) -> list[EpisodeState]:
        return [EpisodeState(*row) for row in driven(FRONT_DOOR).all(self.conn, {"team": team, "limit": limit})]

    def tray(self, worker: str) -> list[tuple[EpisodeState, dict, Progress]]:
        return [_row(row) for row in driven(TRAY).all(self.conn, {"worker": worker})]

    def progression(self, as_at: dt.date, group_by: tuple[str, ...], stale_days: tuple[tuple[str, int], ...],
                    mode: str, team: str | None) -> list[dict]:
        statement = progression_select(group_by, stale_days, mode, team)
        return [dict(r) for r in self.conn.execute(statement, {"as_at": as_at}).mappings()]

    def front_door_report(self, start: dt.date, end: dt.date, mode: str, team: str | None,
                          client_group: str | None) -> list[dict]:
        statement = front_door_select(mode, team, client_group)
        return [dict(r) for r in self.conn.execute(statement, {"start": start, "end": end}).mappings()]

    def for_discussion(self, team: str, limit: int) -> list[tuple[EpisodeState, dict, Progress]]:
        return [_row(row) for row in self.conn.execute(FOR_DISCUSSION, {"team": team, "limit": limit})]

    def standing_still(self, team: str, cutoffs: tuple[tuple[str, dt.date], ...], today: dt.date,
                       limit: int) -> list[tuple[EpisodeState, dict, Progress]]:
        statement = standing_still_select(cutoffs)
        return [_row(row) for row in self.conn.execute(statement, {"team": team, "today": today, "limit": limit})]

    def listing(self, ask: Listing) -> list[tuple[EpisodeState, dict, Progress]]:
        values = {k: v for k, v in dataclasses.asdict(ask).items() if v is not None and k != "flagged"}
        statement = listing_select(tuple(sorted(values)), ask.flagged)  # built once per shape: driven once too
        return [_row(row) for row in driven(statement).all(self.conn, values)]


# -- case progression and the front door's report --------------------------------------------------

PROGRESSION_GROUPINGS = ("worker", "stage")
AS_AT = sa.bindparam("as_at", type_=sa.Date())
START = sa.bindparam("start", type_=sa.Date())
END = sa.bindparam("end", type_=sa.Date())


def _ranked_summary(rows, keys: list[str], measures: dict, ranked_by: str, rank_filter=None):
    """GROUP BY ``keys`` over ``rows`` (a subquery), with ROW_NUMBER and COUNT over the group ordered by
    ``ranked_by`` (only the rows where ``rank_filter`` holds are ranked: the others rank in a partition
    of their own), for the percentiles of pathway.store.reports."""
    part = [rows.c[k] for k in keys]
    if rank_filter is not None:
        part.append(rank_filter(rows))
    window = {"partition_by": part or None, "order_by": (rows.c[ranked_by], rows.c.id), "rows": (None, None)}
    ranked = sa.select(*rows.c, sa.func.row_number().over(**window).label("rn"),
                       sa.func.count().over(**window).label("n")).subquery("ranked")
    cols = [ranked.c[k] for k in keys]
    q = sa.select(*cols, *(expr(ranked).label(name) for name, expr in measures.items()))
    return q.group_by(*cols).order_by(*cols) if cols else q


@functools.lru_cache(maxsize=64)
def progression_select(group_by: tuple[str, ...], stale_days: tuple[tuple[str, int], ...], mode: str,
                       team: str | None) -> sa.Select:
    """Active episodes per worker and stage as at ``as_at`` (a parameter): how many, the median and
    longest days since allocation, how many are stale (no event for more than the stage's stale days),
    have an overdue next action, are flagged (and so not yet discussed: a discussion takes the flag
    down), and the longest since last discussed (since the allocation when never discussed)."""
    threshold = sa.case(*((EPISODE.c.stage == rp.text_value(s), rp.const(n)) for s, n in stale_days),
                        else_=sa.null())

    def flag(condition):
        return sa.case((condition, rp.const(1)), else_=rp.const(0))

    since = sa.func.coalesce(PROGRESS.c.discussed_on, EPISODE.c.allocated_on)
    rows = (sa.select(EPISODE.c.id, EPISODE.c.worker, EPISODE.c.stage,
                      rp.day_count(EPISODE.c.allocated_on, AS_AT, mode).label("days"),
                      flag(rp.day_count(LAST.c.occurred_on, AS_AT, mode) > threshold).label("is_stale"),
                      flag(PROGRESS.c.next_action_due < AS_AT).label("is_overdue"),
                      flag(PROGRESS.c.flagged_at.is_not(None)).label("is_flagged"),
                      rp.day_count(since, AS_AT, mode).label("since_discussed"))
            .select_from(_WITH_LAST.outerjoin(PROGRESS, PROGRESS.c.episode_id == EPISODE.c.id))
            .where(rp.one_of(EPISODE.c.stage, ACTIVE)))
    if team is not None:
        rows = rows.where(EPISODE.c.team == team)
    rows = rows.subquery("active")

    def total(col):
        return lambda r: sa.func.sum(r.c[col])

    measures = {
        "active": lambda r: sa.func.count(),
        "median_days_active": lambda r: rp.percentile(r.c.days, r.c.rn, r.c.n, rp.MEDIAN),
        "max_days_active": lambda r: sa.func.max(r.c.days),
        "stale": total("is_stale"), "overdue_next_actions": total("is_overdue"),
        "flagged_not_discussed": total("is_flagged"),
        "longest_since_discussed": lambda r: sa.func.max(r.c.since_discussed),
    }
    return _ranked_summary(rows, list(group_by), measures, "days")


FRONT_DOOR_FIGURES = ("contacts", "decided", "decided_same_day", "median_days_to_decision",
                      "p90_days_to_decision", "resolved_at_contact")


@functools.lru_cache(maxsize=64)
def front_door_select(mode: str, team: str | None, client_group: str | None) -> sa.Select:
    """Per day of contact in [start, end] (parameters): the contacts made, those decided so far (resolved,
    referred, in crisis or closed), those decided the same day, the median and 90th percentile days from
    the contact to its decision (of those decided), and those resolved at the front door."""
    contact = EVENT.alias("contact_event")
    decision = EVENT.alias("decision")
    decided = sa.and_(decision.c.episode_id == contact.c.episode_id, decision.c.from_stage == FRONT_DOOR_STAGE,
                      decision.c.to_stage != FRONT_DOOR_STAGE)
    rows = (sa.select(contact.c.id, contact.c.occurred_on.label("day"),
                      rp.day_count(contact.c.occurred_on, decision.c.occurred_on, mode).label("days"),
                      decision.c.occurred_on.label("decided_on"), decision.c.trigger.label("decision"))
            .select_from(contact.join(EPISODE, EPISODE.c.id == contact.c.episode_id).outerjoin(decision, decided))
            .where(contact.c.trigger == "record_contact", contact.c.occurred_on >= START, contact.c.occurred_on <= END))
    if team is not None:
        rows = rows.where(EPISODE.c.team == team)
    if client_group is not None:
        rows = rows.where(EPISODE.c.client_group == client_group)
    rows = rows.subquery("contacts")

    def count(condition):
        return lambda r: sa.func.sum(sa.case((condition(r), rp.const(1)), else_=rp.const(0)))

    def of_decided(fraction):
        # Ranked among the decided only; a day with none decided has no percentile.
        return lambda r: sa.case((sa.func.count(r.c.decided_on) > rp.const(0),
                                  rp.percentile(r.c.days, r.c.rn, r.c.n, fraction)), else_=sa.null())

    measures = {
        "contacts": lambda r: sa.func.count(),
        "decided": lambda r: sa.func.count(r.c.decided_on),
        "decided_same_day": count(lambda r: r.c.decided_on == r.c.day),
        "median_days_to_decision": of_decided(rp.MEDIAN),
        "p90_days_to_decision": of_decided(rp.P90),
        "resolved_at_contact": count(lambda r: r.c.decision == "resolve"),
    }
    return _ranked_summary(rows, ["day"], measures, "days", rank_filter=lambda r: r.c.decided_on.is_(None))
