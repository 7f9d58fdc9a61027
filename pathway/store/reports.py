"""The reports' SQL: waits, days to allocation, trends, outcomes and caseloads, as set-based statements.

Definitions (the README's "Reports" section says the same):

- **Days** are whole days between Europe/London dates: calendar days, or working days
  (weekdays that are not England and Wales bank holidays) counted in (start, end] through
  the ``calendar_day`` table. Each stage's days are counted in that stage's mode
  (:class:`~pathway.domain.days.DayModes`; by default the front door's in working days), and
  its threshold is in the same unit.
- **Percentiles** are interpolated, as PostgreSQL's ``percentile_cont``: the p-th percentile
  of n sorted values v1..vn is v[lo] + f * (v[lo+1] - v[lo]) where lo + f = 1 + p * (n - 1)
  (the median of 3 and 11 is 7). Both databases run the same SQL: ROW_NUMBER and COUNT
  windows pick the two ranks and integer arithmetic gives the weights, so the figures agree
  exactly. The statements return them unrounded; the service rounds them.
- **Waiting on a date** (``as_at``): an episode's stage that day is the ``to_stage`` of its
  last event with ``occurred_on <= as_at``; it waits if that stage has a clock (``contact``,
  ``c1_waiting``, ``c2_waiting`` or ``c3_waiting``), for the days from ``wait_from_on`` to
  ``as_at`` (a release does not restart the clock). Today is answered by the same query.
- **Over threshold**: days waiting strictly greater than the threshold of the stage and client
  group (:class:`Terms`).
- **Days to allocation**: per first allocation of a wait (``trigger = 'allocate' AND
  first_allocation``) made in [start, end], the days from ``wait_from_on`` to ``occurred_on``.

The statements take the configuration they depend on as values (:class:`Terms`, :class:`Filters`)
and trust them: the service checks what was asked before it calls the store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pathway.domain import days
from pathway.domain.episode import EpisodeState
from pathway.domain.stages import CLOCKED, STAGES, WAITING
from pathway.domain.vocabulary import PRIORITIES
from pathway.store.calendar import working_days_sql
from pathway.store.duty import CLAIM_ORDER, IS_CRISIS
from pathway.store.episodes import STATE_COLUMNS
from pathway.store.tables import EPISODE, EVENT, TEAM

# The ways a report can be grouped, in the order rows are sorted.
GROUPINGS = ("client_group", "stage", "team", "priority")
MEDIAN = (1, 2)  # p = 1/2
P90 = (9, 10)  # p = 9/10


@dataclasses.dataclass(frozen=True)
class Terms:
    """What a report's SQL takes from the configuration: the client groups in report order, and the
    thresholds as (stage, client group, days), a client group's own before the stage's default
    (client group None). Hashable, so a statement is built once per configuration."""

    client_groups: tuple[str, ...]
    thresholds: tuple[tuple[str, str | None, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class Filters:
    """The rows a report counts: one team, client group, priority or waiting stage (None: all)."""

    team: str | None = None
    client_group: str | None = None
    priority: str | None = None
    stage: str | None = None


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


def stage_day_count(start, end, stage, modes: days.DayModes, stages: Sequence[str]):
    """SQL for the days from ``start`` to ``end`` of a row in ``stage`` (a column holding one of ``stages``),
    each counted in its stage's mode. When every one of ``stages`` counts alike, that is the one count of
    :func:`day_count`; only when they differ is it a CASE over the stage."""
    mode = modes.among(stages)
    if mode is not None:
        return day_count(start, end, mode)
    own = [s for s in stages if modes.of(s) != modes.default]  # one mode: there are only two
    return sa.case((one_of(stage, own), day_count(start, end, modes.of(own[0]))),
                   else_=day_count(start, end, modes.default))


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


# -- building blocks -----------------------------------------------------------------------------

def _values(name: str, values: Sequence[str]):
    """A one-column table of known values (with their sort order), portable to both databases.
    (Not ``sa.values``: SQLAlchemy cannot cache a statement holding one, and would compile the
    report again on every call.)"""
    selects = [sa.select(text_value(v).label(name), const(i).label("ord")) for i, v in enumerate(values)]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery(f"{name}_dim")


def _known_values(name: str, terms: Terms, filters: Filters) -> list[str] | None:
    """The values a grouping can take, in report order (None for teams: rows of the team table)."""
    if name == "client_group":
        return [filters.client_group] if filters.client_group else list(terms.client_groups)
    if name == "priority":
        return [filters.priority] if filters.priority else list(PRIORITIES)
    if name == "stage":
        return [filters.stage] if filters.stage else list(CLOCKED)
    return None


def _dimension(name: str, terms: Terms, filters: Filters):
    """Every value a grouping can take, so a group with nobody in it still gets its row of zeros."""
    values = _known_values(name, terms, filters)
    if values is not None:
        return _values(name, values)
    q = sa.select(TEAM.c.key.label("team"), TEAM.c.key.label("ord"))
    if filters.team is not None:
        q = q.where(TEAM.c.key == filters.team)
    return q.subquery("team_dim")


def _threshold(stage, client_group, terms: Terms):
    whens = []
    for name, group, limit in terms.thresholds:
        if group is None:
            whens.append((stage == text_value(name), const(limit)))
        else:
            whens.append((sa.and_(stage == text_value(name), client_group == group), const(limit)))
    return sa.case(*whens, else_=None) if whens else sa.null()


def _summarise(rows, group_by: Sequence[str], measures: dict, terms: Terms, filters: Filters, periods=None,
               ranked_by: str | None = "days", uses: Sequence[str] | None = None):
    """GROUP BY the groupings over ``rows`` (a subquery with a ``days`` column), then lay the
    groups over every known value of each grouping so empty groups appear with zeros.

    With ``periods`` (a subquery of period_start, period_end), ``rows`` carries period_start too
    and every period gets its rows, first in the order."""
    # A group is known by each grouping's position among its known values where it has them (client
    # group, stage, priority): the rows are sorted and grouped on small integers, far cheaper than
    # comparing text under the database's collation. A value outside the known ones has no position,
    # and its group matches no row of the grid below.
    codes = {}
    for g in group_by:
        values = _known_values(g, terms, filters)
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
    dims = [_dimension(g, terms, filters) for g in group_by]
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


def _episode_filters(query, filters: Filters):
    if filters.team is not None:
        query = query.where(EPISODE.c.team == filters.team)
    if filters.client_group is not None:
        query = query.where(EPISODE.c.client_group == filters.client_group)
    if filters.priority is not None:
        query = query.where(EPISODE.c.priority == filters.priority)
    return query


# -- who waits, and the first allocations ----------------------------------------------------------

def _candidates(first_day: dt.date, last_day: dt.date, filters: Filters):
    """Episodes that may have waited on some day in [first_day, last_day]: contact made by then,
    and either waiting now or changed since first_day (an unchanged episode is as it is now)."""
    since = days.parse_time(first_day + dt.timedelta(days=1))  # first instant after first_day's London day
    until = days.parse_time(last_day + dt.timedelta(days=1))
    cand = sa.select(EPISODE.c.id, EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority).where(
        EPISODE.c.contact_at < until, sa.or_(one_of(EPISODE.c.stage, CLOCKED), EPISODE.c.stage_at >= since))
    return _episode_filters(cand, filters).subquery("cand")


def group_on(episode_id, current, seq):
    """The episode's client group just after its event ``seq``: what its first reclassify after that
    changed from, else its client group now (a reclassify keeps the group it replaced in ``data.from``).
    For a day's waits, :func:`reclassified_after` gives the same as a join."""
    later = EVENT.alias("reclassified")
    first = (sa.select(later.c.data[("from", "client_group")].as_string())
             .where(later.c.episode_id == episode_id, later.c.trigger == "reclassify", later.c.seq > seq)
             .order_by(later.c.seq).limit(1).scalar_subquery())
    # Few episodes are ever reclassified: the set of those is read once (an uncorrelated IN, which
    # PostgreSQL hashes and SQLite indexes), so the lookup above runs for them alone, not every row.
    ever = EVENT.alias("ever_reclassified")
    reclassified = episode_id.in_(sa.select(ever.c.episode_id).where(ever.c.trigger == "reclassify"))
    return sa.case((reclassified, sa.func.coalesce(first, current)), else_=current).label("client_group")


def reclassified_after(day):
    """Each episode reclassified after ``day``, with the client group its first such reclassify replaced
    (kept in ``data.from``): the group it had at the end of the day. Few episodes are ever reclassified,
    so this is a small set, joined to the episodes once (a hash join), not looked up row by row."""
    r = EVENT.alias("reclassify")
    ranked = (sa.select(r.c.episode_id, r.c.data[("from", "client_group")].as_string().label("from_group"),
                        sa.func.row_number().over(partition_by=r.c.episode_id, order_by=r.c.seq).label("k"))
              .where(r.c.trigger == "reclassify", r.c.occurred_on > day).subquery("reclassifies"))
    return sa.select(ranked.c.episode_id, ranked.c.from_group).where(ranked.c.k == const(1)).subquery("reclassified")


def _waiting_rows(as_at, until, modes: days.DayModes, filters: Filters, group_by: Sequence[str] = GROUPINGS,
                  settled: bool = False):
    """One row per episode waiting at the end of the day ``as_at``: its client group, stage, the
    other groupings in ``group_by``, and days waiting in its stage's mode (``as_at`` and ``until``, the
    first instant after that London day, are SQL parameters).

    An episode whose last event (``stage_at``) is on or before the day is as it is now: the
    episode row alone answers (its ``wait_from_on`` is its last event's). Only the episodes changed
    since the day (none, for today) need the window over their events to find the day's last one.
    ``settled``: the caller knows that no episode can have changed since the day, so that branch,
    which costs planning on every call, is left out.
    """
    stages = [filters.stage] if filters.stage else list(CLOCKED)
    # Only the columns the report reads: the statement stays short (see ``const``).
    kept = [g for g in ("client_group", "team", "priority") if g == "client_group" or g in group_by]
    # The client group the day had (a later reclassify changed it); none can come later than a settled day.
    source, columns = EPISODE, [EPISODE.c[g] for g in kept]
    if not settled:
        after = reclassified_after(as_at)
        source = EPISODE.outerjoin(after, after.c.episode_id == EPISODE.c.id)
        columns[0] = sa.func.coalesce(after.c.from_group, EPISODE.c.client_group).label("client_group")
    unchanged = sa.select(*columns, EPISODE.c.stage, EPISODE.c.wait_from_on).select_from(source).where(
        EPISODE.c.stage_at < until)
    unchanged = _episode_filters(unchanged, filters)
    changed = sa.select(EPISODE.c.id, *columns).select_from(source).where(
        EPISODE.c.stage_at >= until, EPISODE.c.contact_at < until)
    changed = _episode_filters(changed, filters).subquery("changed")
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
        *(both.c[g] for g in kept), both.c.stage,
        stage_day_count(both.c.wait_from_on, as_at, both.c.stage, modes, stages).label("days"),
    ).where(one_of(both.c.stage, stages)).subquery("waiting")


def _waiting_rows_in(periods, first_day, last_day, modes: days.DayModes, filters: Filters):
    """One row per episode and period waiting at the period's ``as_at``: each event holds from its
    day until the next event's day, so the state on a day is the event whose span covers it."""
    cand = _candidates(first_day, last_day, filters)
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
    stages = [filters.stage] if filters.stage else list(CLOCKED)
    return sa.select(
        periods.c.period_start, spans.c.client_group, spans.c.team, spans.c.priority, spans.c.stage,
        stage_day_count(spans.c.wait_from_on, periods.c.as_at, spans.c.stage, modes, stages).label("days"),
    ).select_from(spans.join(periods, covers)).where(one_of(spans.c.stage, stages)).subquery("waiting")


WAIT_INPUTS = ("stage", "client_group", "days")  # the threshold depends on stage and client group
ALLOCATION_INPUTS = ("allocation", "days")


def _wait_measures(terms: Terms) -> dict:
    def over(r):
        limit = _threshold(r.c.stage, r.c.client_group, terms)
        return sa.func.sum(sa.case((r.c.days > limit, const(1)), else_=const(0)))

    return {
        "waiting": lambda r: sa.func.count(),
        "median_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, MEDIAN),
        "p90_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, P90),
        "max_days": lambda r: sa.func.max(r.c.days),
        "over_threshold": over,
    }


def _allocation_days(modes: days.DayModes, stage: str | None = None):
    """SQL for the days to a first allocation (a row of the event table), counted in the mode of the queue
    it was made from (``stage``, else any of the waiting stages)."""
    return stage_day_count(EVENT.c.wait_from_on, EVENT.c.occurred_on, EVENT.c.from_stage, modes,
                           [stage] if stage else WAITING)


def _allocation_rows(start, end, modes: days.DayModes, filters: Filters, periods=None):
    """One row per first allocation made in [start, end] (or in each period)."""
    cols = [group_on(EPISODE.c.id, EPISODE.c.client_group, seq=EVENT.c.seq), EPISODE.c.team,
            EPISODE.c.priority, EVENT.c.from_stage.label("stage"),
            EVENT.c.allocation, _allocation_days(modes, filters.stage).label("days")]
    source = EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)
    if periods is not None:
        cols.insert(0, periods.c.period_start)
        source = source.join(periods, sa.and_(EVENT.c.occurred_on >= periods.c.period_start,
                                              EVENT.c.occurred_on <= periods.c.period_end))
    q = sa.select(*cols).select_from(source).where(
        EVENT.c.trigger == "allocate", EVENT.c.first_allocation.is_(True),
        EVENT.c.occurred_on >= start, EVENT.c.occurred_on <= end)
    q = _episode_filters(q, filters)
    if filters.stage is not None:
        q = q.where(EVENT.c.from_stage == filters.stage)
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


def _statement(kind: str, group_by: Sequence[str], terms: Terms, filters: Filters, modes: days.DayModes,
               settled: bool = False) -> sa.Select:
    key = (kind, tuple(group_by), terms, filters, modes, settled)
    statement = _STATEMENTS.get(key)
    if statement is None:
        if kind == "waits":
            rows = _waiting_rows(AS_AT, UNTIL, modes, filters, group_by, settled)
            statement = _summarise(rows, group_by, _wait_measures(terms), terms, filters, uses=WAIT_INPUTS)
        else:
            rows = _allocation_rows(START, END, modes, filters)
            statement = _summarise(rows, group_by, _allocation_measures(), terms, filters, uses=ALLOCATION_INPUTS)
        if len(_STATEMENTS) > 512:
            _STATEMENTS.clear()
        _STATEMENTS[key] = statement
    return statement


def waits_params(as_at_date: dt.date) -> dict:
    """The parameters of a waits statement for one day."""
    return {"as_at": as_at_date, "until": days.parse_time(as_at_date + dt.timedelta(days=1))}


def waits_select(as_at_date: dt.date, group_by: Sequence[str], terms: Terms, filters: Filters = Filters(),
                 modes: days.DayModes = days.DayModes()) -> sa.Select:
    """Who was waiting at the end of ``as_at_date``, per group: one SQL SELECT.

    The wait tracking INSERTs … SELECTs its daily snapshots from it, so a snapshot and the live
    report count alike. Its columns, in order, are the ``group_by`` names (each of client_group,
    stage, team, priority) followed by ``waiting, median_days, p90_days, max_days, over_threshold``;
    ``median_days`` and ``p90_days`` are floats of exact tenths (unrounded); every combination
    of the grouped values has a row (waiting 0, percentiles NULL when nobody waits). Days are counted in
    each stage's mode (``modes``).
    """
    return _statement("waits", group_by, terms, filters, modes).params(**waits_params(as_at_date))


def periods_table(spans: Sequence[tuple[dt.date, dt.date, dt.date]]):
    """The report's time axis as a small table of ``spans`` (period_start, period_end, as_at: the
    period's last day, or today while it runs), with their order."""
    selects = [sa.select(date_param(a).label("period_start"), date_param(b).label("period_end"),
                         date_param(c).label("as_at"), const(i).label("ord"))
               for i, (a, b, c) in enumerate(spans)]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery("periods")


def trend_selects(spans, group_by: Sequence[str], terms: Terms, filters: Filters,
                  modes: days.DayModes) -> tuple[sa.Select, sa.Select]:
    """Waits at the end of each period and first allocations made in it: two SELECTs whose rows
    (period_start, period_end, groupings, figures) come in the same order."""
    periods = periods_table(spans)
    first_as_at, last_as_at = spans[0][2], spans[-1][2]
    waits = _summarise(_waiting_rows_in(periods, first_as_at, last_as_at, modes, filters), group_by,
                       _wait_measures(terms), terms, filters, periods)
    periods2 = periods_table(spans)
    rows = _allocation_rows(date_param(spans[0][0]), date_param(spans[-1][1]), modes, filters, periods2)
    allocs = _summarise(rows, group_by, _allocation_measures(), terms, filters, periods2)
    return waits, allocs


def began_select(first: dt.date, last: dt.date, group_by: Sequence[str], terms: Terms,
                 modes: days.DayModes) -> sa.Select:
    """First allocations of the waits that began from ``first`` to ``last``, per group."""
    rows = sa.select(
        EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority, EVENT.c.from_stage.label("stage"),
        EVENT.c.allocation, _allocation_days(modes).label("days"),
    ).select_from(EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)).where(
        EVENT.c.trigger == "allocate", EVENT.c.first_allocation.is_(True),
        EVENT.c.wait_from_on >= date_param(first), EVENT.c.wait_from_on <= date_param(last)).subquery("began")
    return _summarise(rows, group_by, _allocation_measures(), terms, Filters())


# -- flow: contacts, conversations, closures and outcomes by month ---------------------------------

# The events that close an episode (a note on a closed episode is recorded at stage closed too, and
# closes nothing).
CLOSING = ("close", "resolve")


def repeats_among(contacts, first: dt.date, repeat_days: int, last=None):
    """The ids (``id``) of the ``contacts`` (a selectable of contact_id, episode_id, person_ref,
    occurred_at and occurred_on) made within ``repeat_days`` after the closure of another episode of
    the same person (such a closure is on or after ``first - repeat_days``; ``last`` is kept for the
    callers: a closure before a contact is before the last one).

    The person's other episodes are found on the episode rows, which say whether and when each
    closed (closed is the last stage; ``closed_at`` is its closing event's time), so only an episode
    closed since the window opened has its closing event read, for the London date the window is
    counted in."""
    earlier = EPISODE.alias("earlier_episode")
    closes = EVENT.alias("earlier_close")
    opened = days.parse_time(first - dt.timedelta(days=repeat_days))  # that day's first instant in London
    return (
        sa.select(contacts.c.contact_id.label("id"))
        .select_from(contacts.join(earlier, sa.and_(earlier.c.person_ref == contacts.c.person_ref,
                                                    earlier.c.id != contacts.c.episode_id))
                     .join(closes, sa.and_(closes.c.episode_id == earlier.c.id, closes.c.trigger.in_(CLOSING))))
        .where(earlier.c.stage == "closed", earlier.c.closed_at >= sa.literal(opened, EPISODE.c.closed_at.type),
               earlier.c.closed_at < contacts.c.occurred_at,
               calendar_days(closes.c.occurred_on, contacts.c.occurred_on) <= repeat_days)
        .group_by(contacts.c.contact_id).subquery("repeats"))


def repeat_contacts(contact, contacts_in, first: dt.date, repeat_days: int, last=None):
    """:func:`repeats_among` the contact events ``contact`` (an alias of the event table) meeting ``contacts_in``."""
    own = EPISODE.alias("contact_episode")
    contacts = (sa.select(contact.c.id.label("contact_id"), contact.c.episode_id, own.c.person_ref,
                          contact.c.occurred_at, contact.c.occurred_on)
                .select_from(contact.join(own, own.c.id == contact.c.episode_id)).where(contacts_in)
                .subquery("contacts_of"))
    return repeats_among(contacts, first, repeat_days, last)


def outcomes_select(spans, group_by: Sequence[str], terms: Terms, filters: Filters,
                    repeat_days: int = 90) -> sa.Select:
    """Flow by month (``spans`` as for :func:`periods_table`): events counted in the month they
    happened; the cohort figures follow the month's contacts to wherever their episodes have gone since."""
    periods = periods_table(spans)
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
        # Only events that can set a flag, none before the period (none of an episode's comes before
        # its contact): the database reads the period's events by date, not every event of the log.
        # An episode with none of them has no row here, and counts 0 (the COALESCEs below).
        .select_from(contact.join(later, sa.and_(later.c.episode_id == contact.c.episode_id,
                                                 later.c.occurred_on >= first,
                                                 one_of(later.c.to_stage, ("closed", "c3_waiting", "c3_active")))))
        .where(contacts_in).group_by(contact.c.episode_id).subquery("cohort"))
    # ... and those that came within ``repeat_days`` of the closure of another episode of the same person.
    repeats = repeat_contacts(contact, contacts_in, spans[0][0], repeat_days, last)

    rows = sa.select(
        periods.c.period_start, EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority,
        flag(is_contact).label("is_contact"),
        flag(EVENT.c.trigger == "resolve").label("is_resolve"),
        flag(EVENT.c.trigger == "refer").label("is_refer"),
        flag(EVENT.c.trigger == "crisis").label("is_crisis"),
        # entries to c3's queue: a plan or a stabilise (a release, a conversation keep the stage's queue)
        flag(sa.and_(EVENT.c.to_stage == "c3_waiting", EVENT.c.trigger.in_(("plan", "stabilise")))).label("is_c3"),
        flag(EVENT.c.trigger.in_(CLOSING)).label("is_closed"),
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
    rows = _episode_filters(rows, filters).subquery("flow")

    def total(col):
        return lambda r: sa.func.sum(r.c[col])

    measures = {
        "contacts": total("is_contact"), "resolved_at_contact": total("is_resolve"), "c1_started": total("is_refer"),
        "crises": total("is_crisis"), "c3_started": total("is_c3"), "closed": total("is_closed"),
        "met_at_c1": total("is_met_at_c1"), "repeat_contacts": total("is_repeat"),
        "cohort_resolved_at_contact": total("c_resolved"), "cohort_met_at_c1": total("c_met_at_c1"),
        "cohort_needing_c3": total("c_c3"),
    }
    return _summarise(rows, group_by, measures, terms, Filters(filters.team, filters.client_group, filters.priority),
                      periods, ranked_by=None)


# -- the huddle board -------------------------------------------------------------------------------

# The team's waiting episodes (parameter: team): the board lists the head of the queue in claim order,
# the order Take next takes them in.
_WAITING_IN_TEAM = sa.and_(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage.in_(WAITING))
QUEUE_HEAD = (sa.select(*STATE_COLUMNS).where(_WAITING_IN_TEAM).order_by(*CLAIM_ORDER)
              .limit(sa.bindparam("limit")))
WAITING_AND_CRISES = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((IS_CRISIS, 1), else_=0)), 0)
                               ).where(_WAITING_IN_TEAM)


# -- the part ----------------------------------------------------------------------------------------

class Reports:
    """The reports' statements on one connection (SQLite; the general form)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _analytic(self) -> None:
        """Get the transaction ready for a heavy analytic statement (the PostgreSQL form tunes it)."""

    def _rows(self, statement, params: dict | None = None, *, heavy: bool = True) -> list[dict]:
        if heavy:
            self._analytic()
        return [dict(r) for r in self.conn.execute(statement, params).mappings()]

    def waits(self, day: dt.date, group_by: Sequence[str], terms: Terms, filters: Filters, modes: days.DayModes, *,
              settled: bool = False, heavy: bool = True) -> list[dict]:
        """Who waited at the end of ``day``, per group (unrounded percentiles). ``settled``: no event
        can be later than the day; ``heavy``: a past day, which also reads the log of every episode
        changed since."""
        statement = _statement("waits", group_by, terms, filters, modes, settled)
        heavy = heavy or modes.counts_working([filters.stage] if filters.stage else CLOCKED)
        return self._rows(statement, waits_params(day), heavy=heavy)

    def allocation(self, start: dt.date, end: dt.date, group_by: Sequence[str], terms: Terms, filters: Filters,
                   modes: days.DayModes) -> list[dict]:
        """First allocations made in [start, end], per group: counts, ``days_total`` and unrounded percentiles."""
        statement = _statement("allocation", group_by, terms, filters, modes)
        return self._rows(statement, {"start": start, "end": end})

    def trends(self, spans, group_by: Sequence[str], terms: Terms, filters: Filters,
               modes: days.DayModes) -> tuple[list[dict], list[dict]]:
        """Waits at the end of each period and the first allocations made in it, in the same order."""
        waits, allocs = trend_selects(spans, group_by, terms, filters, modes)
        return self._rows(waits), self._rows(allocs)

    def outcomes(self, spans, group_by: Sequence[str], terms: Terms, filters: Filters) -> list[dict]:
        return self._rows(outcomes_select(spans, group_by, terms, filters))

    def began(self, first: dt.date, last: dt.date, group_by: Sequence[str], terms: Terms,
              modes: days.DayModes) -> list[dict]:
        """First allocations of the waits that began from ``first`` to ``last``, per group."""
        return self._rows(began_select(first, last, group_by, terms, modes))

    def queue_head(self, team: str, limit: int) -> list[EpisodeState]:
        """The first ``limit`` of the team's waiting episodes, in claim order."""
        rows = self.conn.execute(QUEUE_HEAD, {"team": team, "limit": limit})
        return [EpisodeState(*row) for row in rows]

    def waiting_and_crises(self, team: str) -> tuple[int, int]:
        """How many of the team's episodes wait, and how many of those are crises."""
        total, crises = self.conn.execute(WAITING_AND_CRISES, {"team": team}).one()
        return int(total), int(crises)


# PostgreSQL settings for the transaction of a heavy report: it is one short analytic query, which JIT
# compilation slows down more than it speeds up, and whose sort should stay in memory. Today's
# waits go without them when their days are calendar days: they read the waiting episodes alone, a
# plan far below jit_above_cost whose sort takes kilobytes, so the settings would only cost a round
# trip. Working days are looked up in the calendar for each row, which the planner costs high enough
# to compile (a compile of tens of milliseconds for a query of a few): those waits take them too.
REPORT_SESSION = {"jit": "off", "work_mem": "64MB"}
SET_LOCAL = "SELECT " + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in REPORT_SESSION.items())


class PostgresReports(Reports):
    """The PostgreSQL form: a heavy report's transaction gets :data:`REPORT_SESSION` first."""

    _tuned = False

    def _analytic(self) -> None:
        if not self._tuned:
            self.conn.exec_driver_sql(SET_LOCAL)  # SET LOCAL, in one round trip
            self._tuned = True
