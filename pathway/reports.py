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
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pathway import days
from pathway.calendar import check_covered, working_days_sql
from pathway.calendar import ensure as ensure_calendar
from pathway.errors import ValidationError
from pathway.models import Episode, Event, Team
from pathway.settings import PRIORITIES, Settings
from pathway.stages import WAITING

EPISODE = Episode.__table__
EVENT = Event.__table__
TEAM = Team.__table__

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


# -- percentiles in SQL --------------------------------------------------------------------------

def percentile_sum(value, rn, n, fraction: tuple[int, int]):
    """Inside GROUP BY: ``den`` times the interpolated percentile of ``value``.

    ``rn`` is ROW_NUMBER() and ``n`` COUNT(*) over the group ordered by ``value``; the rank
    1 + p(n-1) = lo + rem/den is split in integers, so both databases compute it exactly.
    """
    num, den = fraction
    pos = (n - 1) * num
    lo = pos // den + 1
    rem = pos % den
    return sa.func.sum(sa.case((rn == lo, value * (den - rem)), (rn == lo + 1, value * rem), else_=0))


def percentile(value, rn, n, fraction: tuple[int, int]):
    return sa.cast(percentile_sum(value, rn, n, fraction), sa.Float) / fraction[1]


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
    """A one-column table of known values (with their sort order), portable to both databases."""
    selects = [sa.select(sa.literal(v, sa.String()).label(name), sa.literal(i, sa.Integer()).label("ord"))
               for i, v in enumerate(values)]
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return query.subquery(f"{name}_dim")


def _dimension(name: str, settings: Settings, *, team=None, client_group=None, priority=None, stage=None):
    """Every value a grouping can take, so a group with nobody in it still gets its row of zeros."""
    if name == "team":
        q = sa.select(TEAM.c.key.label("team"), TEAM.c.key.label("ord"))
        if team is not None:
            q = q.where(TEAM.c.key == team)
        return q.subquery("team_dim")
    if name == "client_group":
        return _values(name, [client_group] if client_group else list(settings.client_groups))
    if name == "priority":
        return _values(name, [priority] if priority else list(PRIORITIES))
    return _values(name, [stage] if stage else list(WAITING))


def _threshold(stage, client_group, settings: Settings):
    whens = []
    for group, stages in settings.thresholds.by_client_group.items():
        for name, limit in stages.items():
            whens.append((sa.and_(stage == name, client_group == group), limit))
    for name, limit in settings.thresholds.default.items():
        whens.append((stage == name, limit))
    return sa.case(*whens, else_=None) if whens else sa.null()


def _summarise(rows, group_by: list[str], measures: dict, settings: Settings, filters: dict):
    """GROUP BY the groupings over ``rows`` (a subquery with a ``days`` column), then lay the
    groups over every known value of each grouping so empty groups appear with zeros."""
    part = [rows.c[g] for g in group_by] or None
    ranked = sa.select(
        *rows.c,
        sa.func.row_number().over(partition_by=part, order_by=rows.c.days).label("rn"),
        sa.func.count().over(partition_by=part).label("n"),
    ).subquery("ranked")
    agg_cols = [ranked.c[g] for g in group_by]
    agg = sa.select(*agg_cols, *(expr(ranked).label(name) for name, expr in measures.items()))
    if group_by:
        agg = agg.group_by(*agg_cols)
    agg = agg.subquery("agg")
    if not group_by:
        return sa.select(*(_zero(agg.c[name], name) for name in measures))
    dims = [_dimension(g, settings, **filters) for g in group_by]
    frame = dims[0]
    for d in dims[1:]:
        frame = frame.join(d, sa.true())
    on = sa.and_(*(d.c[g] == agg.c[g] for d, g in zip(dims, group_by, strict=True)))
    return (sa.select(*(d.c[g] for d, g in zip(dims, group_by, strict=True)),
                      *(_zero(agg.c[name], name) for name in measures))
            .select_from(frame.outerjoin(agg, on))
            .order_by(*(d.c.ord for d in dims)))


COUNTS = {"waiting", "over_threshold", "allocated", "self_allocated", "manager_allocated", "days_total"}


def _zero(col, name):
    """Counts of an empty group are 0; its percentiles and maximum stay NULL (none to speak of)."""
    return (sa.func.coalesce(col, 0) if name in COUNTS else col).label(name)


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

def waits_select(as_at_date: dt.date, group_by: Sequence[str], team: str | None = None, *,
                 priority: str | None = None, client_group: str | None = None, stage: str | None = None,
                 settings: Settings | None = None, day_mode: str | None = None) -> sa.Select:
    """Who was waiting at the end of ``as_at_date``, per group: one SQL SELECT.

    The signature is stable: the wait tracking task INSERTs … SELECTs daily snapshots from it.
    Its columns, in order, are the ``group_by`` names (each of client_group, stage, team,
    priority) followed by ``waiting, median_days, p90_days, max_days, over_threshold``;
    ``median_days`` and ``p90_days`` are exact (k/10 values) as floats, unrounded floats of
    those; every combination of the grouped values has a row (waiting 0 when empty).
    """
    settings = settings or Settings()
    group_by = check_group_by(group_by)
    mode = check_day_mode(day_mode, settings)
    # The first instant after the London day: an episode changed after it may have waited that day.
    day_end = days.parse_time(as_at_date + dt.timedelta(days=1))
    cand = sa.select(EPISODE.c.id, EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority).where(
        EPISODE.c.contact_at < day_end, sa.or_(EPISODE.c.stage.in_(WAITING), EPISODE.c.stage_at >= day_end))
    cand = _episode_filters(cand, team, client_group, priority).subquery("cand")
    last = (
        sa.select(cand.c.client_group, cand.c.team, cand.c.priority, EVENT.c.to_stage.label("stage"),
                  EVENT.c.wait_from_on,
                  sa.func.row_number().over(partition_by=EVENT.c.episode_id, order_by=EVENT.c.seq.desc())
                  .label("k"))
        .select_from(cand.join(EVENT, EVENT.c.episode_id == cand.c.id))
        .where(EVENT.c.occurred_on <= date_param(as_at_date))
        .subquery("last_event")
    )
    waiting = sa.select(
        last.c.client_group, last.c.team, last.c.priority, last.c.stage,
        day_count(last.c.wait_from_on, date_param(as_at_date), mode).label("days"),
    ).where(last.c.k == 1, last.c.stage.in_([stage] if stage else WAITING)).subquery("waiting")

    def over(r):
        limit = _threshold(r.c.stage, r.c.client_group, settings)
        return sa.func.sum(sa.case((r.c.days > limit, 1), else_=0))

    measures = {
        "waiting": lambda r: sa.func.count(),
        "median_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, MEDIAN),
        "p90_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, P90),
        "max_days": lambda r: sa.func.max(r.c.days),
        "over_threshold": over,
    }
    return _summarise(waiting, group_by, measures, settings, _filters(team, client_group, priority, stage))


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
    allocations = sa.select(
        EPISODE.c.client_group, EPISODE.c.team, EPISODE.c.priority, EVENT.c.from_stage.label("stage"),
        EVENT.c.allocation, day_count(EVENT.c.wait_from_on, EVENT.c.occurred_on, mode).label("days"),
    ).select_from(EVENT.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id)).where(
        EVENT.c.trigger == "allocate", EVENT.c.first_allocation.is_(True),
        EVENT.c.occurred_on >= date_param(start), EVENT.c.occurred_on <= date_param(end))
    allocations = _episode_filters(allocations, team, client_group, priority)
    if stage is not None:
        allocations = allocations.where(EVENT.c.from_stage == stage)
    allocations = allocations.subquery("allocations")

    def count_of(kind):
        return lambda r: sa.func.sum(sa.case((r.c.allocation == kind, 1), else_=0))

    measures = {
        "allocated": lambda r: sa.func.count(),
        "days_total": lambda r: sa.func.sum(r.c.days),
        "median_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, MEDIAN),
        "p90_days": lambda r: percentile(r.c.days, r.c.rn, r.c.n, P90),
        "self_allocated": count_of("self"),
        "manager_allocated": count_of("manager"),
    }
    return _summarise(allocations, group_by, measures, settings, _filters(team, client_group, priority, stage))


# -- the reports as the engine offers them -------------------------------------------------------

class Reports:
    """``engine.reports``: every report returns a list of dicts keyed as the HTTP report's fields."""

    def __init__(self, engine):
        self.engine = engine

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def today(self) -> dt.date:
        return days.london_date(self.engine.now())

    def _rows(self, query) -> list[dict]:
        with self.engine.transaction(write=False) as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

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
        group_by = check_group_by(group_by)
        day = self.as_at(as_at)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (day, "as_at"))
        rows = self._rows(waits_select(day, group_by, filters["team"], priority=priority,
                                       client_group=client_group, stage=stage, settings=self.settings,
                                       day_mode=mode))
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
        group_by = check_group_by(group_by)
        start_day, end_day = self.period(start, end)
        filters = self._check_filters(team, client_group, priority, stage)
        mode = self._check_mode(day_mode, (start_day, "from"), (end_day, "to"))
        rows = self._rows(allocation_select(start_day, end_day, group_by, filters["team"], priority=priority,
                                            client_group=client_group, stage=stage, settings=self.settings,
                                            day_mode=mode))
        out = []
        for row in rows:
            total = row.pop("days_total")
            row = {**{g: row[g] for g in group_by}, "allocated": row["allocated"],
                   "mean_days": one_decimal((total, row["allocated"])),
                   "median_days": one_decimal(row["median_days"]), "p90_days": one_decimal(row["p90_days"]),
                   "self_allocated": row["self_allocated"], "manager_allocated": row["manager_allocated"]}
            out.append(row)
        return out
