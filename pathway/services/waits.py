"""Wait tracking: the daily snapshot of who waits (per team, client group and stage) and breach detection.

The snapshot is one set-based ``INSERT … SELECT`` over the waits report's own query
(pathway.store.reports.waits_select), so a snapshot and the live report can never count differently.
Its key is day × team × client group × stage. A finished day's rows are inserted only where
missing and never rewritten; today's rows follow the day (a later run updates the rows whose
figures changed since), so running it again with nothing new changes nothing. A missed day is
back-filled from the event log (the report can be asked about any past day).
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain.stages import WAITING
from pathway.errors import ValidationError
from pathway.services import episodes
from pathway.services.outbox import dialect_insert, insert_ignoring_duplicates
from pathway.settings import Settings
from pathway.store.tables import Breach, Episode, Event, Outbox, WaitSnapshot
from pathway.store.unit import Store, Unit

log = logging.getLogger("pathway.waits")

EPISODE = Episode.__table__
EVENT = Event.__table__
OUTBOX = Outbox.__table__
SNAPSHOT = WaitSnapshot.__table__
BREACH = Breach.__table__

SNAPSHOT_KEY = ("team", "client_group", "stage")
SNAPSHOT_FIGURES = ("waiting", "median_days", "p90_days", "max_days", "over_threshold")
# A run back-fills at most this many missed days before the one it is asked for.
BACKFILL_DAYS = 31


def snapshot(conn: Connection, settings: Settings, day: dt.date, now: dt.datetime, team: str | None = None,
             today: bool = False) -> int:
    """Write the snapshot rows of ``day``; returns how many rows were written or changed.

    Every team × client group × waiting stage gets its row, with zeros where nobody waited, so
    a day that was tracked is told apart from a day that was missed. A finished day's rows are
    only ever inserted where missing, never rewritten. ``today``'s rows follow the day until it
    ends: a later run updates a row whose figures have changed since (and touches no other)."""
    from pathway.services.reports import terms
    from pathway.store.reports import Filters, waits_select

    waits = waits_select(day, list(SNAPSHOT_KEY), terms(settings), Filters(team=team), settings.day_mode).subquery("w")
    source = sa.select(sa.literal(day, sa.Date).label("day"), *(waits.c[k] for k in SNAPSHOT_KEY),
                       *(waits.c[f] for f in SNAPSHOT_FIGURES), sa.literal(now, SNAPSHOT.c.taken_at.type)
                       # SQLite reads "FROM w ON CONFLICT" as a join without a WHERE to end the SELECT.
                       ).where(sa.true())
    columns = ["day", *SNAPSHOT_KEY, *SNAPSHOT_FIGURES, "taken_at"]
    insert = dialect_insert(conn, SNAPSHOT).from_select(columns, source)
    if today:
        new = insert.excluded
        insert = insert.on_conflict_do_update(
            index_elements=["day", *SNAPSHOT_KEY],
            set_={name: new[name] for name in (*SNAPSHOT_FIGURES, "taken_at")},
            where=sa.or_(*(SNAPSHOT.c[f].is_distinct_from(new[f]) for f in SNAPSHOT_FIGURES)))
    else:
        insert = insert.on_conflict_do_nothing()
    return len(conn.execute(insert.returning(SNAPSHOT.c.id)).all())


def days_to_snapshot(conn: Connection, as_at: dt.date, team: str | None = None,
                     backfill: int = BACKFILL_DAYS) -> list[dt.date]:
    """``as_at`` and the days missed since the last snapshot (at most ``backfill`` of them)."""
    q = sa.select(sa.func.max(SNAPSHOT.c.day)).where(SNAPSHOT.c.day < as_at)
    if team is not None:
        q = q.where(SNAPSHOT.c.team == team)
    last = conn.execute(q).scalar_one()
    first = as_at if last is None else max(last + dt.timedelta(days=1), as_at - dt.timedelta(days=backfill))
    return [first + dt.timedelta(days=i) for i in range((as_at - first).days + 1)]


def latest_start(as_at: dt.date, threshold: int, mode: str) -> dt.date:
    """The latest wait start that is over ``threshold`` days by ``as_at`` (days counted as pathway.days does)."""
    start = as_at - dt.timedelta(days=threshold + 1)
    while days.days_between(start, as_at, mode) <= threshold:  # working days: step back over weekends
        start -= dt.timedelta(days=1)
    return start


def detect_breaches(conn: Connection, settings: Settings, as_at: dt.date, now: dt.datetime,
                    team: str | None = None) -> list[int]:
    """Record a breach (and its outbox alert, in this same transaction) for every episode waiting longer
    than its threshold that has no breach for this wait and threshold yet; returns the new breach ids."""
    groups = settings.client_groups
    rules = []  # (stage, client group, threshold days)
    for stage in WAITING:
        for group in groups:
            limit = settings.threshold(stage, group)
            if limit is not None:
                rules.append((stage, group, limit))
    if not rules:
        return []
    pair = (EPISODE.c.stage, EPISODE.c.client_group)
    threshold = sa.case(*((sa.and_(pair[0] == s, pair[1] == g), t) for s, g, t in rules))
    cutoff = sa.case(*((sa.and_(pair[0] == s, pair[1] == g), sa.literal(latest_start(as_at, t, settings.day_mode)))
                       for s, g, t in rules))
    already = (sa.select(BREACH.c.id).where(BREACH.c.episode_id == EPISODE.c.id, BREACH.c.stage == EPISODE.c.stage,
                                            BREACH.c.wait_from == EPISODE.c.wait_from,
                                            BREACH.c.threshold_days == threshold))
    from pathway.store.reports import date_param, day_count

    found = (sa.select(EPISODE.c.id, EPISODE.c.stage, EPISODE.c.team, EPISODE.c.client_group, EPISODE.c.wait_from,
                       threshold, day_count(EVENT.c.wait_from_on, date_param(as_at), settings.day_mode),
                       date_param(as_at), sa.literal(now, BREACH.c.detected_at.type))
             .join(EVENT, sa.and_(EVENT.c.episode_id == EPISODE.c.id, EVENT.c.seq == EPISODE.c.version))
             .where(EPISODE.c.stage.in_(WAITING), EVENT.c.wait_from_on <= cutoff, ~sa.exists(already)))
    if team is not None:
        found = found.where(EPISODE.c.team == team)
    columns = ["episode_id", "stage", "team", "client_group", "wait_from", "threshold_days", "days_waiting",
               "detected_on", "detected_at"]
    new = set(conn.execute(insert_ignoring_duplicates(conn, BREACH).from_select(columns, found)
                           .returning(BREACH.c.id)).scalars())
    if not new:
        return []
    # The alerts, in the same transaction: a breach is never recorded without its outbox row.
    q = (sa.select(BREACH, EPISODE.c.person_ref, EPISODE.c.priority)
         .join(EPISODE, EPISODE.c.id == BREACH.c.episode_id).where(BREACH.c.detected_at == now)
         .order_by(BREACH.c.id))
    alerts = []
    for b in conn.execute(q).mappings():
        if b["id"] not in new:
            continue
        payload = {"kind": "breach", "breach_id": b["id"], "episode_id": b["episode_id"],
                   "person_ref": b["person_ref"], "team": b["team"], "client_group": b["client_group"],
                   "priority": b["priority"], "stage": b["stage"], "wait_from": b["wait_from"].isoformat(),
                   "days_waiting": b["days_waiting"], "threshold_days": b["threshold_days"],
                   "detected_on": as_at.isoformat()}
        alerts.append({"kind": "breach", "episode_id": b["episode_id"], "payload": payload, "created_at": now,
                       "attempts": 0})
    conn.execute(OUTBOX.insert(), alerts)
    log.info("%s new breaches as at %s", len(alerts), as_at)
    return sorted(new)


def track(conn: Connection, settings: Settings, now: dt.datetime, as_at: dt.date | None = None,
          team: str | None = None, backfill: int = BACKFILL_DAYS) -> dict:
    """One run of wait tracking: snapshots of ``as_at`` (default today) and missed days, and today's breaches."""
    today = days.london_date(now)
    as_at = as_at or today
    if as_at > today:
        raise ValidationError(f"as_at {as_at} is in the future (today is {today})", field="as_at")
    if team is not None:
        episodes.get_team(Unit(conn, Store(conn.engine)), team)
    written = {}
    for day in days_to_snapshot(conn, as_at, team, backfill):
        written[day.isoformat()] = snapshot(conn, settings, day, now, team, today=day == today)
    breaches = detect_breaches(conn, settings, as_at, now, team) if as_at == today else []
    return {"as_at": as_at.isoformat(), "snapshots": written, "breaches": len(breaches)}
