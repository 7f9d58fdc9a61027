"""Wait tracking: the daily snapshot of who waits (per team, client group and stage) and breach detection.

The snapshot is one set-based ``INSERT … SELECT`` over the waits report's own query
(pathway.store.snapshots), so a snapshot and the live report can never count differently. Its
key is day × team × client group × stage. A finished day's rows are inserted only where missing
and never rewritten; today's rows follow the day (a later run updates the rows whose figures
changed since), so running it again with nothing new changes nothing. A missed day is
back-filled from the event log (the report can be asked about any past day).
"""

from __future__ import annotations

import datetime as dt
import logging

from pathway.domain import days
from pathway.domain.stages import CLOCKED
from pathway.errors import ValidationError
from pathway.services import episodes
from pathway.services.reports import terms
from pathway.settings import Settings
from pathway.store.reports import Filters
from pathway.store.unit import Unit

log = logging.getLogger("pathway.waits")

# A run back-fills at most this many missed days before the one it is asked for.
BACKFILL_DAYS = 31


def snapshot(uow: Unit, settings: Settings, day: dt.date, now: dt.datetime, team: str | None = None,
             today: bool = False) -> int:
    """Write the snapshot rows of ``day``; returns how many rows were written or changed.

    Every team × client group × waiting stage gets its row, with zeros where nobody waited, so
    a day that was tracked is told apart from a day that was missed. A finished day's rows are
    only ever inserted where missing, never rewritten. ``today``'s rows follow the day until it
    ends: a later run updates a row whose figures have changed since (and touches no other)."""
    return uow.snapshots.write(day, terms(settings), Filters(team=team), settings.day_modes, now, today=today)


def days_to_snapshot(uow: Unit, as_at: dt.date, team: str | None = None,
                     backfill: int = BACKFILL_DAYS) -> list[dt.date]:
    """``as_at`` and the days missed since the last snapshot (at most ``backfill`` of them)."""
    last = uow.snapshots.last_day(as_at, team)
    first = as_at if last is None else max(last + dt.timedelta(days=1), as_at - dt.timedelta(days=backfill))
    return [first + dt.timedelta(days=i) for i in range((as_at - first).days + 1)]


def latest_start(as_at: dt.date, threshold: int, mode: str) -> dt.date:
    """The latest wait start that is over ``threshold`` days by ``as_at`` (days counted in ``mode`` as
    pathway.domain.days does)."""
    start = as_at - dt.timedelta(days=threshold + 1)
    while days.days_between(start, as_at, mode) <= threshold:  # working days: step back over weekends
        start -= dt.timedelta(days=1)
    return start


def detect_breaches(uow: Unit, settings: Settings, as_at: dt.date, now: dt.datetime,
                    team: str | None = None) -> list[int]:
    """Record a breach (and its outbox alert, in this same unit of work) for every episode waiting longer
    than its threshold (in the days of its stage's mode) that has no breach for this wait and threshold yet;
    returns the new breach ids."""
    rules = []  # (stage, client group, threshold days, the latest wait start over it)
    for stage in CLOCKED:
        mode = settings.day_mode_of(stage)
        for group in settings.client_groups:
            limit = settings.threshold(stage, group)
            if limit is not None:
                rules.append((stage, group, limit, latest_start(as_at, limit, mode)))
    if not rules:
        return []
    new = uow.snapshots.add_breaches(rules, as_at, now, settings.day_modes, team)
    if not new:
        return []
    # The alerts, in the same unit of work: a breach is never recorded without its outbox row.
    alerts = []
    for b in uow.snapshots.detected(now):
        if b["id"] not in new:
            continue
        payload = {"kind": "breach", "breach_id": b["id"], "episode_id": b["episode_id"],
                   "person_ref": b["person_ref"], "team": b["team"], "client_group": b["client_group"],
                   "priority": b["priority"], "stage": b["stage"], "wait_from": b["wait_from"].isoformat(),
                   "days_waiting": b["days_waiting"], "threshold_days": b["threshold_days"],
                   "detected_on": as_at.isoformat()}
        alerts.append({"kind": "breach", "episode_id": b["episode_id"], "payload": payload, "created_at": now,
                       "attempts": 0})
    uow.snapshots.add_alerts(alerts)
    log.info("%s new breaches as at %s", len(alerts), as_at)
    return sorted(new)


def track(uow: Unit, settings: Settings, now: dt.datetime, as_at: dt.date | None = None,
          team: str | None = None, backfill: int = BACKFILL_DAYS) -> dict:
    """One run of wait tracking: snapshots of ``as_at`` (default today) and missed days, and today's breaches."""
    today = days.london_date(now)
    as_at = as_at or today
    if as_at > today:
        raise ValidationError(f"as_at {as_at} is in the future (today is {today})", field="as_at")
    if team is not None:
        episodes.get_team(uow, team)
    written = {}
    for day in days_to_snapshot(uow, as_at, team, backfill):
        written[day.isoformat()] = snapshot(uow, settings, day, now, team, today=day == today)
    breaches = detect_breaches(uow, settings, as_at, now, team) if as_at == today else []
    return {"as_at": as_at.isoformat(), "snapshots": written, "breaches": len(breaches)}
