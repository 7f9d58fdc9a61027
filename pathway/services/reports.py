"""The reports huddles and scrutiny panels read, each one set-based SQL over the event log and episodes.

Definitions (the README's "Reports" section says the same):

- **Days** are whole days between Europe/London dates: calendar days, or working days
  (weekdays that are not England and Wales bank holidays) counted in (start, end] through
  the ``calendar_day`` table.
- **Percentiles** are interpolated, as PostgreSQL's ``percentile_cont``: the p-th percentile
  of n sorted values v1..vn is v[lo] + f * (v[lo+1] - v[lo]) where lo + f = 1 + p * (n - 1)
  (the median of 3 and 11 is 7). Both databases run the same SQL: ROW_NUMBER and COUNT
  windows pick the two ranks and integer arithmetic gives the weights, so the figures agree
  exactly. Medians, 90th percentiles and means are rounded to one decimal (half up).
- **Waiting on a date** (``as_at``): an episode's stage that day is the ``to_stage`` of its
  last event with ``occurred_on <= as_at``; it waits if that stage is ``c1_waiting``,
  ``c2_waiting`` or ``c3_waiting``, for ``as_at - wait_from_on`` days (a release does not
  restart the clock). Today is answered by the same query.
- **Over threshold**: days waiting strictly greater than ``settings.threshold(stage, client_group)``.
- **Days to allocation**: per first allocation of a wait (``trigger = 'allocate' AND
  first_allocation``) made in [start, end], ``occurred_on - wait_from_on``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pathway.domain import days
from pathway.domain.checks import FUTURE_SLACK
from pathway.domain.stages import STAGES, WAITING
from pathway.errors import ValidationError
from pathway.settings import PRIORITIES, Settings
from pathway.store.calendar import check_covered, working_days_sql
from pathway.store.calendar import ensure as ensure_calendar
from pathway.store.tables import Episode, Event, Team

EPISODE = Episode.__table__
EVENT = Event.__table__
TEAM = Team.__table__

# Waits on a past day look only at the episodes changed since (stage_at after the day): this
# index finds them (migration 0003_reports creates it).
sa.Index("ix_episode_stage_at", EPISODE.c.stage_at)

# The ways a report can be grouped (API.md's group_by values), in the order rows are sorted.
GROUPINGS = ("client_group", "stage", "team", "priority")
DAY_MODES = ("calendar", "working")
MEDIAN = (1, 2)  # p = 1/2
P90 = (9, 10)  # p = 9/10


# -- days in SQL ---------------------------------------------------------------------------------

class calendar_days(FunctionElement):
    """Whole days from one date expression to another: ``end - start``."""

    type = sa.Integer()
    name = "calendar_days"
    inherit_cache = True


@compiles(calendar_days)
def _calendar_days(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"({compiler.process(end, **kw)} - {compiler.process(start, **kw)})"


@compiles(calendar_days, "sqlite")
def _calendar_days_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"CAST(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})"
            " AS INTEGER)")


def day_count(start, end, mode: str):
    """SQL for the days from ``start`` to ``end`` (date expressions) in the given day mode."""
    if mode == "working":
        return working_days_sql(start, end)
    return calendar_days(start, end)


def date_param(value: dt.date):
    return sa.literal(value, sa.Date())


def const(value: int):
    """An integer constant written into the SQL instead of bound as a parameter: a report's
    statement keeps few parameters and stays short, so psycopg keeps its parse of the statement
    (it caches statements of at most 4096 bytes and 50 parameters) rather than parsing it again."""
    return sa.literal_column(str(int(value)), sa.Integer())


# The pathway's own stages and priorities: identifiers of the code, never user text.
_NAMES = frozenset(STAGES) | frozenset(PRIORITIES)
assert all(n.replace("_", "").isalnum() and n.isascii() for n in _NAMES)


def text_value(value: str):
    """A string value in the SQL: a stage or priority is written in (as ``const``), anything
    else (a client group from the configuration, a team) is bound."""
    if value in _NAMES:
        return sa.literal_column(f"'{value}'", sa.String())
    return sa.literal(value, sa.String())


def one_of(column, values: Sequence[str]):
    """``column IN (values)`` with the values in the statement, not an expanding parameter that
    SQLAlchemy renders again on every execution."""
    return column.in_([text_value(v) for v in values])


# -- percentiles in SQL --------------------------------------------------------------------------

def percentile_sum(value, rn, n, fraction: tuple[int, int]):
    """Inside GROUP BY: ``den`` times the interpolated percentile of ``value``.

    ``rn`` is ROW_NUMBER() and ``n`` COUNT(*) over the group ordered by ``value``; the rank
    1 + p(n-1) = lo + rem/den is split in integers, so both databases compute it exactly.
    """
    num, den = fraction
    pos = (n - const(1)) * const(num) if num != 1 else n - const(1)
    below = pos // const(den)  # lo - 1
    rem = pos % const(den)
    return sa.func.sum(sa.case((rn == below + const(1), value * (const(den) - rem)),
                               (rn == below + const(2), value * rem), else_=const(0)))


def percentile(value, rn, n, fraction: tuple[int, int]):
    return sa.cast(percentile_sum(value, rn, n, fraction), sa.Float) / const(fraction[1])


def one_decimal(value) -> float | None:
    """Half-up rounding to one decimal of a float or an exact fraction (numerator, denominator)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        total, count = value
        if not count or total is None:
            return None
        exact = Decimal(int(total)) / Decimal(int(count))
    else:
        exact = Decimal(repr(float(value)))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# -- checking what was asked ---------------------------------------------------------------------

def check_group_by(group_by: Sequence[str] | str | None) -> list[str]:
    if group_by is None:
        return []
    if isinstance(group_by, str):
        group_by = [g for g in (part.strip() for part in group_by.split(",")) if g]
    out: list[str] = []
    for name in group_by:
        if name not in GROUPINGS:
            raise ValidationError(f"unknown grouping {name!r}; group by any of: {', '.join(GROUPINGS)}",
                                  field="group_by")
        if name in out:
            raise ValidationError(f"grouping {name!r} is given twice", field="group_by")
        out.append(name)
    return out


def check_day_mode(mode: str | None, settings: Settings) -> str:
    mode = mode or settings.day_mode
    if mode not in DAY_MODES:
        raise ValidationError(f"day mode {mode!r}: use 'calendar' or 'working'", field="days")
    return mode


def check_priority(value: str | None) -> str | None:
    if value is not None and value not in PRIORITIES:
        raise ValidationError(f"unknown priority {value!r}; priorities are: {', '.join(PRIORITIES)}",
                              field="priority")
    return value


def check_stage(value: str | None) -> str | None:
    if value is not None and value not in WAITING:
        raise ValidationError(f"unknown waiting stage {value!r}; stages are: {', '.join(WAITING)}",
                              field="stage")
    return value


# -- building blocks -----------------------------------------------------------------------------

def _values(name: str, values: Sequence[str]):
    """A one-column table of known values (with their sort order), portable to both databases.
    (Not ``sa.values``: SQLAlchemy cannot cache a statement holding one, and would compile the
    report again on every call.)"""
    selects = [sa.select(text_value(v).label(name), const(i).label("ord")) for i, v in enumerate(values)]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery(f"{name}_dim")


def _known_values(name: str, settings: Settings, *, team=None, client_group=None, priority=None,
                  stage=None) -> list[str] | None:
    """The values a grouping can take, in report order (None for teams: rows of the team table)."""
    if name == "client_group":
        return [client_group] if client_group else list(settings.client_groups)
    if name == "priority":
        return [priority] if priority else list(PRIORITIES)
    if name == "stage":
        return [stage] if stage else list(WAITING)
    return None


def _dimension(name: str, settings: Settings, **filters):
    """Every value a grouping can take, so a group with nobody in it still gets its row of zeros."""
    values = _known_values(name, settings, **filters)
    if values is not None:
        return _values(name, values)
    q = sa.select(TEAM.c.key.label("team"), TEAM.c.key.label("ord"))
    if filters["team"] is not None:
        q = q.where(TEAM.c.key == filters["team"])
    return q.subquery("team_dim")


def _threshold(stage, client_group, settings: Settings):
    whens = []
    for group, stages in settings.thresholds.by_client_group.items():
        for name, limit in stages.items():
            whens.append((sa.and_(stage == text_value(name), client_group == group), const(limit)))
    for name, limit in settings.thresholds.default.items():
        whens.append((stage == text_value(name), const(limit)))
    return sa.case(*whens, else_=None) if whens else sa.null()


def _summarise(rows, group_by: list[str], measures: dict, settings: Settings, filters: dict, periods=None,
               ranked_by: str | None = "days", uses: Sequence[str] | None = None):
    """GROUP BY the groupings over ``rows`` (a subquery with a ``days`` column), then lay the
    groups over every known value of each grouping so empty groups appear with zeros.

    With ``periods`` (a subquery of period_start, period_end), ``rows`` carries period_start too
    and every period gets its rows, first in the order."""
    # A group is known by each grouping's position among its known values where it has them (client
    # group, stage, priority): the rows are sorted and grouped on small integers, far cheaper than
    # comparing text under the database's collation. A value outside the known ones has no position,
    # and its group, as before, matches no row of the grid below.
    codes = {}
    for g in group_by:
        values = _known_values(g, settings, **filters)
        if values is not None:
            codes[g] = sa.case({text_value(v): const(i) for i, v in enumerate(values)}, value=rows.c[g]) \
                .label(f"{g}_ord")
    if codes:
        rows = sa.select(*rows.c, *codes.values()).subquery("coded")
    keys = (["period_start"] if periods is not None else []) + [f"{g}_ord" if g in codes else g for g in group_by]
    part = [rows.c[g] for g in keys] or None
    extra = []
    if ranked_by is not None:
        # One window (the same partition, order and whole-partition frame) for both, so the
        # database sorts once and evaluates them in one pass.
        window = {"partition_by": part, "order_by": rows.c[ranked_by], "rows": (None, None)}
        extra = [sa.func.row_number().over(**window).label("rn"), sa.func.count().over(**window).label("n")]
    # Only the columns the groups and measures read: the rows are sorted, and narrow rows sort in memory.
    wanted = None if uses is None else set(keys) | set(uses) | ({ranked_by} if ranked_by else set())
    ranked = sa.select(*(c for c in rows.c if wanted is None or c.name in wanted), *extra).subquery("ranked")
    agg_cols = [ranked.c[g] for g in keys]
    agg = sa.select(*agg_cols, *(expr(ranked).label(name) for name in measures for expr in [measures[name]]))
    if keys:
        agg = agg.group_by(*agg_cols)
    # Materialised on PostgreSQL: the heavy aggregate may run in parallel, while laying the few
    # group rows over it should not start parallel workers of its own.
    agg = agg.cte("agg").prefix_with("MATERIALIZED", dialect="postgresql")
    if not keys:
        return sa.select(*(_zero(agg.c[name], name) for name in measures))
    dims = [_dimension(g, settings, **filters) for g in group_by]
    frames = ([periods] if periods is not None else []) + dims
    frame = frames[0]
    for d in frames[1:]:
        frame = frame.join(d, sa.true())
    pairs = ([(periods.c.period_start, "period_start")] if periods is not None else []) + \
        [(d.c.ord, f"{g}_ord") if g in codes else (d.c[g], g) for d, g in zip(dims, group_by, strict=True)]
    on = sa.and_(*(column == agg.c[key] for column, key in pairs))
    heads = ([periods.c.period_start, periods.c.period_end] if periods is not None else []) + \
        [d.c[g] for d, g in zip(dims, group_by, strict=True)]
    return (sa.select(*heads, *(_zero(agg.c[name], name) for name in measures))
            .select_from(frame.outerjoin(agg, on))
            .order_by(*(d.c.ord for d in frames)))


COUNTS = {"waiting", "over_threshold", "allocated", "self_allocated", "manager_allocated", "days_total",
          "contacts", "resolved_at_contact", "c1_started", "crises", "c3_started", "closed", "met_at_c1",
          "repeat_contacts", "cohort_resolved_at_contact", "cohort_met_at_c1", "cohort_needing_c3"}


def _zero(col, name):
    """Counts of an empty group are 0; its percentiles and maximum stay NULL (none to speak of)."""
    return (sa.func.coalesce(col, const(0)) if name in COUNTS else col).label(name)


def _filters(team, client_group, priority, stage=None) -> dict:
    return {"team": team, "client_group": client_group, "priority": priority, "stage": stage}


def _episode_filters(query, team, client_group, priority):
    if team is not None:
        query = query.where(EPISODE.c.team == team)
    if client_group is not None:
        query = query.where(EPISODE.c.client_group == client_group)
    if priority is not None:
        query = query.where(EPISODE.c.priority == priority)
    return query


# -- the public selectables ----------------------------------------------------------------------

def _candidates(first_day: dt.date, last_day: dt.date, team, client_group, priority):
    """Episodes that may have waited on some day in [first_day, last_day]: contact made by then,
    and either waiting now or changed since first_day (an unchanged episode is as it is now)."""
    since = days.parse_time(first_day + dt.timedelta(days=1))  # first instant after first_day's London day
    until = days.parse_time(last_day + dt.timedelta(days=1))
    cand = sa.select(EPISODE.c.id, EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority).where(
        EPISODE.c.contact_at < until, sa.or_(one_of(EPISODE.c.stage, WAITING), EPISODE.c.stage_at >= since))
    return _episode_filters(cand, team, client_group, priority).subquery("cand")


def _waiting_rows(as_at, until, mode: str, team, client_group, priority, stage, group_by: Sequence[str] = GROUPINGS,
                  settled: bool = False):
    """One row per episode waiting at the end of the day ``as_at``: its client group, stage, the
    other groupings in ``group_by``, and days waiting (``as_at`` and ``until``, the first instant
    after that London day, are SQL parameters).

    An episode whose last event (``stage_at``) is on or before the day is as it is now: the
    episode row alone answers (its ``wait_from_on`` is its last event's). Only the episodes changed
    since the day (none, for today) need the window over their events to find the day's last one.
    ``settled``: the caller knows that no episode can have changed since the day (see
    :func:`settled`), so that branch, which costs planning on every call, is left out.
    """
    stages = [stage] if stage else list(WAITING)
    # Only the columns the report reads: the statement stays short (see ``const``).
    kept = [g for g in ("client_group", "team", "priority") if g == "client_group" or g in group_by]
    unchanged = sa.select(*(EPISODE.c[g] for g in kept), EPISODE.c.stage, EPISODE.c.wait_from_on).where(
        EPISODE.c.stage_at < until)
    unchanged = _episode_filters(unchanged, team, client_group, priority)
    changed = sa.select(EPISODE.c.id, *(EPISODE.c[g] for g in kept)).where(
        EPISODE.c.stage_at >= until, EPISODE.c.contact_at < until)
    changed = _episode_filters(changed, team, client_group, priority).subquery("changed")
    last = (
        sa.select(*(changed.c[g] for g in kept), EVENT.c.to_stage.label("stage"), EVENT.c.wait_from_on,
                  sa.func.row_number().over(partition_by=EVENT.c.episode_id, order_by=EVENT.c.seq.desc())
                  .label("k"))
        .select_from(changed.join(EVENT, EVENT.c.episode_id == changed.c.id))
        .where(EVENT.c.occurred_on <= as_at)
        .subquery("last_event")
    )
    then = sa.select(*(last.c[g] for g in kept), last.c.stage, last.c.wait_from_on).where(last.c.k == const(1))
    both = (unchanged if settled else sa.union_all(unchanged, then)).subquery("waits_then")
    # The stages once, for both: the database takes the condition into each part (into the episode
    # index scan; above the window, which it must not cut short, in the other).
    return sa.select(
        *(both.c[g] for g in kept), both.c.stage, day_count(both.c.wait_from_on, as_at, mode).label("days"),
    ).where(one_of(both.c.stage, stages)).subquery("waiting")


def _waiting_rows_in(periods, first_day, last_day, mode: str, team, client_group, priority, stage):
    """One row per episode and period waiting at the period's ``as_at``: each event holds from its
    day until the next event's day, so the state on a day is the event whose span covers it."""
    cand = _candidates(first_day, last_day, team, client_group, priority)
    spans = (
        sa.select(cand.c.client_group, cand.c.team, cand.c.priority, EVENT.c.to_stage.label("stage"),
                  EVENT.c.wait_from_on, EVENT.c.occurred_on,
                  sa.func.lead(EVENT.c.occurred_on).over(partition_by=EVENT.c.episode_id, order_by=EVENT.c.seq)
                  .label("next_on"))
        .select_from(cand.join(EVENT, EVENT.c.episode_id == cand.c.id))
        .subquery("spans")
    )
    covers = sa.and_(spans.c.occurred_on <= periods.c.as_at,
                     sa.or_(spans.c.next_on.is_(None), spans.c.next_on > periods.c.as_at))
    return sa.select(
        periods.c.period_start, spans.c.client_group, spans.c.team, spans.c.priority, spans.c.stage,
        day_count(spans.c.wait_from_on, periods.c.as_at, mode).label("days"),
    ).select_from(spans.join(periods, covers)).where(
        one_of(spans.c.stage, [stage] if stage else WAITING)).subquery("waiting")


WAIT_INPUTS = ("stage", "client_group", "days")  # the threshold depends on stage and client group
ALLOCATION_INPUTS = ("allocation", "days")


def _wait_measures(settings: Settings) -> dict:
    def over(r):
        limit = _threshold(r.c.stage, r.c.client_group, settings)
        return sa.func.sum(sa.case((r.c.days > limit, const(1)), else_=const(0)))

    return {
        "waiting": lambda r: sa.func.count(),
        "median_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, MEDIAN),
        "p90_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, P90),
        "max_days": lambda r: sa.func.max(r.c.days),
        "over_threshold": over,
    }


def _allocation_rows(start, end, mode: str, team, client_group, priority, stage, periods=None):
    """One row per first allocation made in [start, end] (or in each period)."""
    cols = [EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority, EVENT.c.from_stage.label("stage"),
            EVENT.c.allocation, day_count(EVENT.c.wait_from_on, EVENT.c.occurred_on, mode).label("days")]
    source = EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)
    if periods is not None:
        cols.insert(0, periods.c.period_start)
        source = source.join(periods, sa.and_(EVENT.c.occurred_on >= periods.c.period_start,
                                              EVENT.c.occurred_on <= periods.c.period_end))
    q = sa.select(*cols).select_from(source).where(
        EVENT.c.trigger == "allocate", EVENT.c.first_allocation.is_(True),
        EVENT.c.occurred_on >= start, EVENT.c.occurred_on <= end)
    q = _episode_filters(q, team, client_group, priority)
    if stage is not None:
        q = q.where(EVENT.c.from_stage == stage)
    return q.subquery("allocations")


def _allocation_measures() -> dict:
    def count_of(kind):
        return lambda r: sa.func.sum(sa.case((r.c.allocation == kind, const(1)), else_=const(0)))

    return {
        "allocated": lambda r: sa.func.count(),
        "days_total": lambda r: sa.func.sum(r.c.days),
        "median_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, MEDIAN),
        "p90_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, P90),
        "self_allocated": count_of("self"),
        "manager_allocated": count_of("manager"),
    }


# The dates of a waits or allocation report are parameters, so each statement is built (and
# compiled by SQLAlchemy) once per shape and reused for every day it is asked about.
AS_AT = sa.bindparam("as_at", type_=sa.Date())
UNTIL = sa.bindparam("until", type_=EPISODE.c.stage_at.type)
START = sa.bindparam("start", type_=sa.Date())
END = sa.bindparam("end", type_=sa.Date())
_STATEMENTS: dict[tuple, sa.Select] = {}
# PostgreSQL settings for the transaction of a report: it is one short analytic query, which JIT
# compilation slows down more than it speeds up, and whose sort should stay in memory. Today's
# waits go without them (Reports._waits_rows): they read the waiting episodes alone, a plan far
# below jit_above_cost whose sort takes kilobytes, so the settings would only cost a round trip.
REPORT_SESSION = {"jit": "off", "work_mem": "64MB"}
_SET_LOCAL = "SELECT " + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in REPORT_SESSION.items())


def _statement(kind: str, group_by: list[str], team, priority, client_group, stage, settings: Settings,
               mode: str, settled: bool = False) -> sa.Select:
    config = (settings.client_groups, json.dumps(settings.thresholds.model_dump(), sort_keys=True))
    key = (kind, tuple(group_by), team, priority, client_group, stage, mode, config, settled)
    statement = _STATEMENTS.get(key)
    if statement is None:
        filters = _filters(team, client_group, priority, stage)
        if kind == "waits":
            rows = _waiting_rows(AS_AT, UNTIL, mode, team, client_group, priority, stage, group_by, settled)
            statement = _summarise(rows, group_by, _wait_measures(settings), settings, filters,
                                   uses=WAIT_INPUTS)
        else:
            rows = _allocation_rows(START, END, mode, team, client_group, priority, stage)
            statement = _summarise(rows, group_by, _allocation_measures(), settings, filters,
                                   uses=ALLOCATION_INPUTS)
        if len(_STATEMENTS) > 512:
            _STATEMENTS.clear()
        _STATEMENTS[key] = statement
    return statement


def waits_params(as_at_date: dt.date) -> dict:
    """The parameters of a waits statement for one day."""
    return {"as_at": as_at_date, "until": days.parse_time(as_at_date + dt.timedelta(days=1))}


# How far ahead of the engine's clock any stored event can be: the write path and the history
# import refuse an occurred_at more than FUTURE_SLACK ahead of their own clock, and an hour more
# covers clocks that differ between the engine's processes.
SETTLED_MARGIN = FUTURE_SLACK + dt.timedelta(hours=1)


def settled(as_at_date: dt.date, now: dt.datetime) -> bool:
    """True when no stored event can be later than the day ``as_at_date``: then every episode is
    as it was at the end of that day, and waits need not look for episodes changed since. Today
    is settled until an hour or so before midnight; a past day never is."""
    return now + SETTLED_MARGIN < days.parse_time(as_at_date + dt.timedelta(days=1))


def waits_select(as_at_date: dt.date, group_by: Sequence[str], team: str | None = None, *,
                 priority: str | None = None, client_group: str | None = None, stage: str | None = None,
                 settings: Settings | None = None, day_mode: str | None = None) -> sa.Select:
    """Who was waiting at the end of ``as_at_date``, per group: one SQL SELECT.

    The signature is stable: the wait tracking task INSERTs … SELECTs daily snapshots from it.
    Its columns, in order, are the ``group_by`` names (each of client_group, stage, team,
    priority) followed by ``waiting, median_days, p90_days, max_days, over_threshold``;
    ``median_days`` and ``p90_days`` are floats of exact tenths (unrounded); every combination
    of the grouped values has a row (waiting 0, percentiles NULL when nobody waits).
    """
    settings = settings or Settings()
    group_by = check_group_by(group_by)
    mode = check_day_mode(day_mode, settings)
    statement = _statement("waits", group_by, team, priority, client_group, stage, settings, mode)
    return statement.params(**waits_params(as_at_date))


def allocation_select(start: dt.date, end: dt.date, group_by: Sequence[str], team: str | None = None, *,
                      priority: str | None = None, client_group: str | None = None, stage: str | None = None,
                      settings: Settings | None = None, day_mode: str | None = None) -> sa.Select:
    """First allocations made from ``start`` to ``end`` (inclusive), per group: one SQL SELECT.

    Columns: the ``group_by`` names, then ``allocated, days_total, median_days, p90_days,
    self_allocated, manager_allocated`` (the mean is ``days_total / allocated``). ``stage`` is
    the waiting stage the allocation ended (c1_waiting, c2_waiting or c3_waiting).
    """
    settings = settings or Settings()
    group_by = check_group_by(group_by)
    mode = check_day_mode(day_mode, settings)
    statement = _statement("allocation", group_by, team, priority, client_group, stage, settings, mode)
    return statement.params(start=start, end=end)


def periods_table(start: dt.date, end: dt.date, period: str, today: dt.date):
    """The report's time axis as a small table: period_start, period_end, as_at (the period's
    last day, or today while it runs) and its order. Weeks run Monday to Sunday."""
    if period not in ("week", "month", "day"):
        raise ValidationError(f"period {period!r}: use 'week' or 'month'", field="period")
    spans = []
    if period == "day":
        first = start
    elif period == "week":
        first = start - dt.timedelta(days=start.weekday())
    else:
        first = start.replace(day=1)
    while first <= end:
        if period == "day":
            nxt = first + dt.timedelta(days=1)
        elif period == "week":
            nxt = first + dt.timedelta(days=7)
        else:
            nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = nxt - dt.timedelta(days=1)
        spans.append((first, last, min(last, today)))
        first = nxt
    if len(spans) > 2000:
        raise ValidationError(f"{len(spans)} periods from {start} to {end}: at most 2000; choose a longer period",
                              field="period")
    selects = [sa.select(date_param(a).label("period_start"), date_param(b).label("period_end"),
                         date_param(c).label("as_at"), const(i).label("ord"))
               for i, (a, b, c) in enumerate(spans)]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery("periods"), spans


def trend_selects(start: dt.date, end: dt.date, period: str, today: dt.date, group_by: Sequence[str],
                  team: str | None = None, *, priority: str | None = None, client_group: str | None = None,
                  stage: str | None = None, settings: Settings | None = None,
                  day_mode: str | None = None) -> tuple[sa.Select, sa.Select]:
    """Waits at the end of each period and first allocations made in it: two SELECTs whose rows
    (period_start, period_end, groupings, figures) come in the same order."""
    settings = settings or Settings()
    group_by = check_group_by(group_by)
    mode = check_day_mode(day_mode, settings)
    filters = _filters(team, client_group, priority, stage)
    periods, spans = periods_table(start, end, period, today)
    first_as_at, last_as_at = spans[0][2], spans[-1][2]
    waits = _summarise(_waiting_rows_in(periods, first_as_at, last_as_at, mode, team, client_group, priority,
                                        stage), group_by, _wait_measures(settings), settings, filters, periods)
    periods2, _ = periods_table(start, end, period, today)
    rows = _allocation_rows(date_param(spans[0][0]), date_param(spans[-1][1]), mode, team, client_group, priority,
                            stage, periods2)
    allocs = _summarise(rows, group_by, _allocation_measures(), settings, filters, periods2)
    return waits, allocs


def outcomes_select(start: dt.date, end: dt.date, group_by: Sequence[str], team: str | None = None, *,
                    priority: str | None = None, client_group: str | None = None,
                    settings: Settings | None = None, repeat_days: int = 90) -> sa.Select:
    """Flow by month: events counted in the month they happened; the cohort figures follow the
    month's contacts to wherever their episodes have gone since."""
    settings = settings or Settings()
    group_by = check_group_by(group_by)
    if "stage" in group_by:
        raise ValidationError("outcomes are grouped by client_group, team or priority, not stage", field="group_by")
    periods, spans = periods_table(start, end, "month", end)
    first, last = date_param(spans[0][0]), date_param(spans[-1][1])
    is_contact = EVENT.c.trigger == "record_contact"

    def flag(condition):
        return sa.case((condition, const(1)), else_=const(0))

    # Set-based, so the cost grows with the rows read and never with contacts times events:
    # the period's contacts, found once each through (trigger, occurred_on) ...
    contact = EVENT.alias("contact")
    contacts_in = sa.and_(contact.c.trigger == "record_contact", contact.c.occurred_on >= first,
                          contact.c.occurred_on <= last)
    # ... what their episodes have done so far, one row per episode (MAX of flags = "ever") ...
    later = EVENT.alias("later")
    cohort = (
        sa.select(contact.c.episode_id,
                  sa.func.max(flag(later.c.trigger == "resolve")).label("resolved"),
                  sa.func.max(flag(sa.and_(later.c.to_stage == "closed", later.c.outcome == "met_at_c1")))
                  .label("met_at_c1"),
                  sa.func.max(flag(one_of(later.c.to_stage, ["c3_waiting", "c3_active"]))).label("c3"))
        .select_from(contact.join(later, later.c.episode_id == contact.c.episode_id))
        .where(contacts_in).group_by(contact.c.episode_id).subquery("cohort"))
    # ... and those that came within ``repeat_days`` of the closure of another episode of the same
    # person (such a closure is on or after ``first - repeat_days``), joined on person_ref once.
    own = EPISODE.alias("contact_episode")
    earlier = EPISODE.alias("earlier_episode")
    closes = EVENT.alias("earlier_close")
    repeats = (
        sa.select(contact.c.id)
        .select_from(contact.join(own, own.c.id == contact.c.episode_id)
                     .join(earlier, sa.and_(earlier.c.person_ref == own.c.person_ref, earlier.c.id != own.c.id))
                     .join(closes, closes.c.episode_id == earlier.c.id))
        .where(contacts_in, closes.c.to_stage == "closed",
               closes.c.occurred_on >= date_param(spans[0][0] - dt.timedelta(days=repeat_days)),
               closes.c.occurred_at < contact.c.occurred_at,
               calendar_days(closes.c.occurred_on, contact.c.occurred_on) <= repeat_days)
        .group_by(contact.c.id).subquery("repeats"))

    rows = sa.select(
        periods.c.period_start, EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority,
        flag(is_contact).label("is_contact"),
        flag(EVENT.c.trigger == "resolve").label("is_resolve"),
        flag(EVENT.c.trigger == "refer").label("is_refer"),
        flag(EVENT.c.trigger == "crisis").label("is_crisis"),
        flag(sa.and_(EVENT.c.to_stage == "c3_waiting", EVENT.c.trigger != "release")).label("is_c3"),
        flag(EVENT.c.to_stage == "closed").label("is_closed"),
        flag(sa.and_(EVENT.c.to_stage == "closed", EVENT.c.outcome == "met_at_c1")).label("is_met_at_c1"),
        sa.func.coalesce(cohort.c.resolved, const(0)).label("c_resolved"),
        sa.func.coalesce(cohort.c.met_at_c1, const(0)).label("c_met_at_c1"),
        sa.func.coalesce(cohort.c.c3, const(0)).label("c_c3"),
        flag(repeats.c.id.is_not(None)).label("is_repeat"),
    ).select_from(
        EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)
        .join(periods, sa.and_(EVENT.c.occurred_on >= periods.c.period_start,
                               EVENT.c.occurred_on <= periods.c.period_end))
        .outerjoin(cohort, sa.and_(is_contact, cohort.c.episode_id == EVENT.c.episode_id))
        .outerjoin(repeats, repeats.c.id == EVENT.c.id)
    ).where(EVENT.c.occurred_on >= first, EVENT.c.occurred_on <= last)
    rows = _episode_filters(rows, team, client_group, priority).subquery("flow")

    def total(col):
        return lambda r: sa.func.sum(r.c[col])

    measures = {
        "contacts": total("is_contact"), "resolved_at_contact": total("is_resolve"), "c1_started": total("is_refer"),
        "crises": total("is_crisis"), "c3_started": total("is_c3"), "closed": total("is_closed"),
        "met_at_c1": total("is_met_at_c1"), "repeat_contacts": total("is_repeat"),
        "cohort_resolved_at_contact": total("c_resolved"), "cohort_met_at_c1": total("c_met_at_c1"),
        "cohort_needing_c3": total("c_c3"),
    }
    return _summarise(rows, group_by, measures, settings, _filters(team, client_group, priority), periods,
                      ranked_by=None)


# -- the reports as the engine offers them -------------------------------------------------------

class Reports:
    """``engine.reports``: every report returns a list of dicts keyed as the HTTP report's fields.

    ``group_by=None`` means the report's default grouping; ``[]`` (or "") one row for everything.
    """

    def __init__(self, engine):
        self.engine = engine

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def today(self) -> dt.date:
        return days.london_date(self.engine.now())

    def _rows(self, query, params: dict | None = None, *, report_session: bool = True) -> list[dict]:
        with self.engine.transaction(write=False) as conn:
            if report_session and conn.dialect.name == "postgresql":
                conn.exec_driver_sql(_SET_LOCAL)  # SET LOCAL, in one round trip
            return [dict(r) for r in conn.execute(query, params).mappings()]

    def _waits_rows(self, day: dt.date, group_by: list[str], filters: dict, mode: str) -> list[dict]:
        statement = _statement("waits", group_by, filters["team"], filters["priority"], filters["client_group"],
                               filters["stage"], self.settings, mode, settled(day, self.engine.now()))
        # A past day also reads the events of every episode changed since: that can be heavy.
        return self._rows(statement, waits_params(day), report_session=day < self.today())

    def _allocation_rows(self, start: dt.date, end: dt.date, group_by: list[str], filters: dict,
                         mode: str) -> list[dict]:
        statement = _statement("allocation", group_by, filters["team"], filters["priority"],
                               filters["client_group"], filters["stage"], self.settings, mode)
        return self._rows(statement, {"start": start, "end": end})

    def _check_team(self, team: str | None) -> str | None:
        if team is None:
            return None
        with self.engine.transaction(write=False) as conn:
            teams = list(conn.execute(sa.select(TEAM.c.key).order_by(TEAM.c.key)).scalars())
        if team not in teams:
            raise ValidationError(f"unknown team {team!r}; teams are: {', '.join(teams) or 'none yet'}",
                                  field="team")
        return team

    def _check_filters(self, team, client_group, priority, stage=None) -> dict:
        if client_group is not None:
            self.settings.check_client_group(client_group)
        return {"team": self._check_team(team), "client_group": client_group,
                "priority": check_priority(priority), "stage": check_stage(stage)}

    def _check_mode(self, day_mode: str | None, *dates: tuple[dt.date, str]) -> str:
        mode = check_day_mode(day_mode, self.settings)
        if mode == "working":
            for value, field in dates:
                check_covered(value, field)
            ensure_calendar(self.engine.db)
        return mode

    def as_at(self, value) -> dt.date:
        """The report date: today (London) by default; never in the future."""
        today = self.today()
        day = days.parse_date(value, "as_at") if value is not None else today
        if day > today:
            raise ValidationError(f"as_at {day.isoformat()} is in the future (today is {today.isoformat()}); "
                                  "waits can be reported up to today", field="as_at")
        return day

    def period(self, start, end, default_days: int = 28) -> tuple[dt.date, dt.date]:
        """[start, end] dates: by default the ``default_days`` days to today."""
        end_day = days.parse_date(end, "to") if end is not None else self.today()
        start_day = (days.parse_date(start, "from") if start is not None
                     else end_day - dt.timedelta(days=default_days - 1))
        if start_day > end_day:
            raise ValidationError(f"from {start_day.isoformat()} is after to {end_day.isoformat()}; "
                                  "from must be on or before to", field="from")
        return start_day, end_day

    def waits(self, group_by: Sequence[str] | str | None = ("client_group", "stage"), team: str | None = None,
              as_at=None, priority: str | None = None, client_group: str | None = None,
              stage: str | None = None, day_mode: str | None = None) -> list[dict]:
        """Who waits at the end of ``as_at`` (default today), per group: ``waiting, median_days,
        p90_days, max_days, over_threshold``."""
        group_by = check_group_by(("client_group", "stage") if group_by is None else group_by)
        day = self.as_at(as_at)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (day, "as_at"))
        rows = self._waits_rows(day, group_by, filters, mode)
        for row in rows:
            row["median_days"] = one_decimal(row["median_days"])
            row["p90_days"] = one_decimal(row["p90_days"])
        return rows

    def allocation(self, group_by: Sequence[str] | str | None = ("client_group", "stage"), start=None,
                   end=None, team: str | None = None, priority: str | None = None,
                   client_group: str | None = None, stage: str | None = None,
                   day_mode: str | None = None) -> list[dict]:
        """First allocations made from ``start`` to ``end`` (inclusive; default the 28 days to today),
        per group: ``allocated, mean_days, median_days, p90_days, self_allocated, manager_allocated``."""
        group_by = check_group_by(("client_group", "stage") if group_by is None else group_by)
        start_day, end_day = self.period(start, end)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (start_day, "from"), (end_day, "to"))
        rows = self._allocation_rows(start_day, end_day, group_by, filters, mode)
        out = []
        for row in rows:
            total = row.pop("days_total")
            row = {**{g: row[g] for g in group_by}, "allocated": row["allocated"],
                   "mean_days": one_decimal((total, row["allocated"])),
                   "median_days": one_decimal(row["median_days"]), "p90_days": one_decimal(row["p90_days"]),
                   "self_allocated": row["self_allocated"], "manager_allocated": row["manager_allocated"]}
            out.append(row)
        return out

    def trends(self, group_by: Sequence[str] | str | None = ("client_group",), start=None, end=None,
               period: str | None = "week", team: str | None = None, priority: str | None = None,
               client_group: str | None = None, stage: str | None = None,
               day_mode: str | None = None) -> list[dict]:
        """Per week (Monday to Sunday) or month from ``start`` to ``end`` (default the 12 weeks or
        months to today): who waited at the end of the period (``waiting, median_days, p90_days,
        over_threshold``, as the waits report on that day, or today while the period runs) and the
        first allocations made in it (``allocated, mean_days_to_allocation, median_days_to_allocation``)."""
        group_by = check_group_by(("client_group",) if group_by is None else group_by)
        period = period or "week"
        default = 12 * (7 if period == "week" else 30)
        start_day, end_day = self.period(start, end, default_days=default)
        today = self.today()
        if start_day > today:
            raise ValidationError(f"from {start_day.isoformat()} is in the future (today is {today.isoformat()})",
                                  field="from")
        end_day = min(end_day, today)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (start_day, "from"), (end_day, "to"))
        waits_q, allocs_q = trend_selects(start_day, end_day, period, today, group_by, filters["team"],
                                          priority=priority, client_group=client_group, stage=stage,
                                          settings=self.settings, day_mode=mode)
        waits, allocs = self._rows(waits_q), self._rows(allocs_q)
        out = []
        for w, a in zip(waits, allocs, strict=True):  # the same periods × groups, in the same order
            out.append({"period_start": w["period_start"], "period_end": w["period_end"],
                        **{g: w[g] for g in group_by}, "waiting": w["waiting"],
                        "median_days": one_decimal(w["median_days"]), "p90_days": one_decimal(w["p90_days"]),
                        "over_threshold": w["over_threshold"], "allocated": a["allocated"],
                        "mean_days_to_allocation": one_decimal((a["days_total"], a["allocated"])),
                        "median_days_to_allocation": one_decimal(a["median_days"])})
        return out

    def caseloads(self, team: str | None = None, by: str | None = "worker") -> list[dict]:
        """Active episodes per worker against their cap (the duty desk's count), or per team:
        ``workers, caseload, capacity, over_cap`` (workers above their cap)."""
        from pathway.services import duty
        from pathway.store.unit import Unit

        by = by or "worker"
        if by not in ("worker", "team"):
            raise ValidationError(f"caseloads by {by!r}: use 'worker' or 'team'", field="by")
        self._check_team(team)
        with self.engine.transaction(write=False) as conn:
            rows = duty.caseloads(Unit(conn, self.engine.store), self.settings, team)
        if by == "worker":
            return rows
        teams: dict[str, dict] = {}
        for row in rows:  # one row per worker: a few dozen at most
            t = teams.setdefault(row["team"], {"team": row["team"], "workers": 0, "caseload": 0, "capacity": 0,
                                               "over_cap": 0})
            t["workers"] += 1
            t["caseload"] += row["caseload"]
            t["capacity"] += row["cap"]
            t["over_cap"] += bool(row["over_cap"])
        return list(teams.values())

    def outcomes(self, group_by: Sequence[str] | str | None = (), start=None, end=None, team: str | None = None,
                 priority: str | None = None, client_group: str | None = None) -> list[dict]:
        """By month from ``start`` to ``end`` (default the 12 months to today): contacts,
        conversations started, closures and outcomes, repeat contacts, and the shares of the
        month's contacts resolved at contact, met at conversation 1 and needing conversation 3."""
        group_by = check_group_by(group_by)
        start_day, end_day = self.period(start, end, default_days=365)
        filters = self._check_filters(team, client_group, priority)
        rows = self._rows(outcomes_select(start_day, end_day, group_by, filters["team"], priority=priority,
                                          client_group=client_group, settings=self.settings))
        out = []
        for row in rows:
            n = row["contacts"]
            out.append({
                "month": row["period_start"].isoformat()[:7] if hasattr(row["period_start"], "isoformat")
                else str(row["period_start"])[:7],
                **{g: row[g] for g in group_by},
                **{k: row[k] for k in ("contacts", "resolved_at_contact", "c1_started", "crises", "c3_started",
                                       "closed", "met_at_c1", "repeat_contacts")},
                "share_resolved_at_contact": one_decimal((100 * row["cohort_resolved_at_contact"], n)),
                "share_met_at_c1": one_decimal((100 * row["cohort_met_at_c1"], n)),
                "share_needing_c3": one_decimal((100 * row["cohort_needing_c3"], n)),
            })
        return out

    def forecast(self, group_by: Sequence[str] | str | None = ("team", "stage"), team: str | None = None,
                 as_at=None, client_group: str | None = None, priority: str | None = None,
                 stage: str | None = None, window_days: int = 28, day_mode: str | None = None) -> list[dict]:
        """Per queue: the expected days to allocation of a contact arriving on ``as_at`` (default
        today) = people waiting ÷ first allocations per day over the ``window_days`` to ``as_at``."""
        group_by = check_group_by(("team", "stage") if group_by is None else group_by)
        day = self.as_at(as_at)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (day, "as_at"))
        start = day - dt.timedelta(days=window_days - 1)
        waits = self._waits_rows(day, group_by, filters, mode)
        allocs = self._allocation_rows(start, day, group_by, filters, mode)
        out = []
        for w, a in zip(waits, allocs, strict=True):  # the same groups, in the same order
            rate = a["allocated"] / window_days
            expected = 0.0 if w["waiting"] == 0 else (None if rate == 0 else w["waiting"] / rate)
            out.append({**{g: w[g] for g in group_by}, "waiting": w["waiting"],
                        "allocated_recently": a["allocated"], "per_day": round(rate, 2),
                        "expected_days": None if expected is None else one_decimal(expected)})
        return out

    def forecast_backtest(self, dates: Sequence, group_by: Sequence[str] | str | None = ("team", "stage"),
                          horizon_days: int = 7, window_days: int = 28) -> dict:
        """How good the forecast was: for each past date, the forecast per queue against the mean
        days to allocation of the waits that began in the ``horizon_days`` from that date and have
        been allocated since. Returns the pairs and the mean absolute error in days."""
        group_by = check_group_by(group_by)
        pairs = []
        for value in dates:  # a handful of dates, each answered by set-based queries
            day = self.as_at(value)
            forecast = self.forecast(group_by=group_by, as_at=day, window_days=window_days)
            actual = self._rows(_began_select(day, day + dt.timedelta(days=horizon_days - 1), group_by,
                                              self.settings, self.settings.day_mode))
            for f, a in zip(forecast, actual, strict=True):
                if f["expected_days"] is None or not a["allocated"]:
                    continue
                pairs.append({"as_at": day, **{g: f[g] for g in group_by}, "forecast_days": f["expected_days"],
                              "actual_days": one_decimal((a["days_total"], a["allocated"])),
                              "allocated": a["allocated"]})
        errors = [abs(p["forecast_days"] - p["actual_days"]) for p in pairs]
        return {"pairs": pairs, "queues_compared": len(pairs),
                "mean_absolute_error_days": round(sum(errors) / len(errors), 1) if errors else None}


def _began_select(first: dt.date, last: dt.date, group_by: list[str], settings: Settings, mode: str):
    """First allocations of the waits that began from ``first`` to ``last``, per group."""
    rows = sa.select(
        EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority, EVENT.c.from_stage.label("stage"),
        EVENT.c.allocation, day_count(EVENT.c.wait_from_on, EVENT.c.occurred_on, mode).label("days"),
    ).select_from(EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)).where(
        EVENT.c.trigger == "allocate", EVENT.c.first_allocation.is_(True),
        EVENT.c.wait_from_on >= date_param(first), EVENT.c.wait_from_on <= date_param(last)).subquery("began")
    return _summarise(rows, group_by, _allocation_measures(), settings, _filters(None, None, None))
