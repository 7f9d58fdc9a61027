"""The reports huddles and scrutiny panels read: the questions checked, the store asked, the rows shaped.

Every report is set-based SQL over the event log and episodes (pathway.store.reports says how
each figure is defined). Medians, 90th percentiles and means are rounded here to one decimal
(half up). Each report's fields are declared once, in :data:`SHAPES`: the rows are built from
them and the HTTP schema (pathway.api.report_schemas) describes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from pathway.domain import days
from pathway.domain.checks import FUTURE_SLACK, unknown_team
from pathway.domain.stages import CLOCKED, WAITING
from pathway.errors import ValidationError
from pathway.services import duty
from pathway.settings import PRIORITIES, Settings
from pathway.store.calendar import check_covered
from pathway.store.calendar import ensure as ensure_calendar
from pathway.store.reports import GROUPINGS, Filters, Terms
from pathway.store.unit import Unit

DAY_MODES = days.MODES
PERIODS = ("week", "month")
MAX_PERIODS = 2000
DAYS = float | None  # a rounded median, 90th percentile or mean: None when there is nothing to measure


@dataclasses.dataclass(frozen=True)
class Shape:
    """The fields of a report's rows, in order: ``heads``, then the groupings asked for (any of
    ``groupings``), then ``figures``; each with its type."""

    heads: dict[str, type]
    groupings: tuple[str, ...]
    figures: dict[str, type]

    def fields(self, group_by: Sequence[str]) -> tuple[str, ...]:
        """The fields of a row grouped by ``group_by``, in order."""
        return (*self.heads, *group_by, *self.figures)

    def row(self, values: dict, group_by: Sequence[str]) -> dict:
        """A row of this report from ``values`` (which must hold every field; others are left out)."""
        return {k: values[k] for k in self.fields(group_by)}


SHAPES = {
    "waits": Shape({}, GROUPINGS, {"waiting": int, "median_days": DAYS, "p90_days": DAYS, "max_days": int | None,
                                   "over_threshold": int}),
    "allocation": Shape({}, GROUPINGS, {"allocated": int, "mean_days": DAYS, "median_days": DAYS, "p90_days": DAYS,
                                        "self_allocated": int, "manager_allocated": int}),
    "trends": Shape({"period_start": dt.date, "period_end": dt.date}, GROUPINGS,
                    {"waiting": int, "median_days": DAYS, "p90_days": DAYS, "over_threshold": int, "allocated": int,
                     "mean_days_to_allocation": DAYS, "median_days_to_allocation": DAYS}),
    "outcomes": Shape({"month": str}, ("client_group", "team", "priority"),
                      {"contacts": int, "resolved_at_contact": int, "c1_started": int, "crises": int,
                       "c3_started": int, "closed": int, "met_at_c1": int, "repeat_contacts": int,
                       "share_resolved_at_contact": DAYS, "share_met_at_c1": DAYS, "share_needing_c3": DAYS}),
    "forecast": Shape({}, GROUPINGS, {"waiting": int, "allocated_recently": int, "per_day": float,
                                      "expected_days": DAYS}),
    # With weighting (settings.workforce.weighting) cap is cap x FTE and free and over_cap count the weight.
    "caseloads": Shape({"worker": str, "team": str}, (),
                       {"caseload": int, "weight": float, "fte": float, "cap": int | float, "free": int | float,
                        "over_cap": bool, "away": str | None, "away_until": dt.date | None}),
    "caseloads_by_team": Shape({"team": str}, (), {"workers": int, "caseload": int, "weight": float,
                                                   "capacity": int | float, "over_cap": int, "away": int}),
    "supervision": Shape({"worker": str, "team": str}, (),
                         {"role": str, "line_manager": str | None, "sessions": int, "full_sessions": int,
                          "hours": float, "sampled": int, "last_session": dt.date | None, "standard_sessions": int,
                          "standard_minutes": int, "meets_standard": bool, "overdue": bool, "away": str | None}),
    "supervision_by_manager": Shape({"manager": str, "team": str}, (),
                                    {"direct_reports": int, "span_limit": int, "over_span": bool}),
    "progression": Shape({}, ("worker", "stage"),
                         {"active": int, "median_days_active": DAYS, "max_days_active": int | None, "stale": int,
                          "overdue_next_actions": int, "flagged_not_discussed": int,
                          "longest_since_discussed": int | None}),
    "front_door": Shape({"day": dt.date}, (), {"contacts": int, "decided": int, "decided_same_day": int,
                                              "median_days_to_decision": DAYS, "p90_days_to_decision": DAYS,
                                              "resolved_at_contact": int, "share_resolved_at_contact": DAYS}),
}


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


def terms(settings: Settings) -> Terms:
    """What the reports' SQL takes from the configuration: client groups and the threshold table."""
    by_group = tuple((stage, group, limit) for group, stages in settings.thresholds.by_client_group.items()
                     for stage, limit in stages.items())
    return Terms(tuple(settings.client_groups),
                 by_group + tuple((stage, None, limit) for stage, limit in settings.thresholds.default.items()))


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


def check_day_modes(mode: str | None, settings: Settings) -> days.DayModes:
    """The unit each stage's days are counted in for a report: the mode asked for, for every stage, else
    each stage's own (the settings)."""
    if mode is None:
        return settings.day_modes
    return days.DayModes(check_day_mode(mode, settings))


def check_priority(value: str | None) -> str | None:
    if value is not None and value not in PRIORITIES:
        raise ValidationError(f"unknown priority {value!r}; priorities are: {', '.join(PRIORITIES)}",
                              field="priority")
    return value


def check_stage(value: str | None) -> str | None:
    if value is not None and value not in CLOCKED:
        raise ValidationError(f"unknown waiting stage {value!r}; stages are: {', '.join(CLOCKED)}",
                              field="stage")
    return value


def period_spans(start: dt.date, end: dt.date, period: str, today: dt.date) -> list[tuple[dt.date, dt.date, dt.date]]:
    """The report's time axis: (period_start, period_end, as_at: the period's last day, or today
    while it runs) for each week (Monday to Sunday), month or day from ``start`` to ``end``."""
    if period not in (*PERIODS, "day"):
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
    if len(spans) > MAX_PERIODS:
        raise ValidationError(f"{len(spans)} periods from {start} to {end}: at most {MAX_PERIODS}; "
                              "choose a longer period", field="period")
    return spans


# How far ahead of the engine's clock any stored event can be: the write path and the history
# import refuse an occurred_at more than FUTURE_SLACK ahead of their own clock, and an hour more
# covers clocks that differ between the engine's processes.
SETTLED_MARGIN = FUTURE_SLACK + dt.timedelta(hours=1)
# How far ahead a report's or a return's dates may reach: a period in the future is only empty, but a date
# near the calendar's end could not have its next day counted.
REPORT_AHEAD = dt.timedelta(days=100 * 365)


def settled(as_at_date: dt.date, now: dt.datetime) -> bool:
    """True when no stored event can be later than the day ``as_at_date``: then every episode is
    as it was at the end of that day, and waits need not look for episodes changed since. Today
    is settled until an hour or so before midnight; a past day never is."""
    return now + SETTLED_MARGIN < days.parse_time(as_at_date + dt.timedelta(days=1))


# -- the reports as the engine offers them -------------------------------------------------------

class Reports:
    """``engine.reports``: every report returns a list of dicts keyed as the HTTP report's fields.

    ``group_by=None`` means the report's default grouping; ``[]`` (or "") one row for everything.
    Each report is one unit of work.
    """

    def __init__(self, engine):
        self.engine = engine
        # The working-day calendar is checked (and filled if it was found empty) once per engine: every
        # waits report counts the front door's working days by default.
        self._calendar_filled = False

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def today(self) -> dt.date:
        return days.london_date(self.engine.now())

    def _unit(self):
        return self.engine.store.unit(write=False)

    def _waits(self, uow: Unit, day: dt.date, group_by: list[str], filters: Filters,
               modes: days.DayModes) -> list[dict]:
        # A past day also reads the events of every episode changed since: that can be heavy.
        return uow.reports.waits(day, group_by, terms(self.settings), filters, modes,
                                 settled=settled(day, self.engine.now()), heavy=day < self.today())

    def _allocation(self, uow: Unit, start: dt.date, end: dt.date, group_by: list[str], filters: Filters,
                    modes: days.DayModes) -> list[dict]:
        return uow.reports.allocation(start, end, group_by, terms(self.settings), filters, modes)

    def _check_team(self, uow: Unit, team: str | None) -> None:
        if team is not None and uow.episodes.team(team) is None:
            raise ValidationError(unknown_team(team, [t["key"] for t in uow.episodes.teams()]), field="team")

    def _filters(self, team, client_group, priority, stage=None) -> Filters:
        """The filters, checked but for the team (checked in the report's unit of work)."""
        if client_group is not None:
            self.settings.check_client_group(client_group)
        return Filters(team=team, client_group=client_group, priority=check_priority(priority),
                       stage=check_stage(stage))

    def _check_mode(self, day_mode: str | None, *dates: tuple[dt.date, str]) -> str:
        """The mode of a report whose days are of no stage with a clock (case progression, scrutiny)."""
        mode = check_day_mode(day_mode, self.settings)
        if mode == "working":
            self._working_days(dates)
        return mode

    def _check_modes(self, day_mode: str | None, *dates: tuple[dt.date, str],
                     stages: Sequence[str] = CLOCKED) -> days.DayModes:
        """The mode each of ``stages`` counts its days in for a report (:func:`check_day_modes`)."""
        modes = check_day_modes(day_mode, self.settings)
        working = [s for s in stages if modes.of(s) == "working"]
        if working:
            self._working_days(dates, [s for s in working if modes.of(s) != modes.default])
        return modes

    def _working_days(self, dates: Sequence[tuple[dt.date, str]], stages: Sequence[str] | None = None) -> None:
        """Working days are counted on these dates: each must be in the working-day calendar, and the calendar
        filled. ``stages``: those counted in working days by a mode of their own, named in a refusal."""
        why = f", in which the settings count the days of {', '.join(stages)} (day_mode_by_stage)" if stages else ""
        for value, field in dates:
            check_covered(value, field, why)
        if not self._calendar_filled:
            ensure_calendar(self.engine.store.db)
            self._calendar_filled = True

    def as_at(self, value) -> dt.date:
        """The report date: today (London) by default; never in the future."""
        today = self.today()
        day = days.parse_date(value, "as_at") if value is not None else today
        if day > today:
            raise ValidationError(f"as_at {day.isoformat()} is in the future (today is {today.isoformat()}); "
                                  "waits can be reported up to today", field="as_at")
        self.settings.security.horizon.check_day(day, "as_at", today)
        return day

    def period(self, start, end, default_days: int = 28) -> tuple[dt.date, dt.date]:
        """[start, end] dates: by default the ``default_days`` days to today."""
        end_day = days.parse_date(end, "to") if end is not None else self.today()
        latest = self.today() + REPORT_AHEAD
        self.settings.security.horizon.check_day(end_day, "to", latest)
        start_day = (days.parse_date(start, "from") if start is not None
                     else end_day - dt.timedelta(days=default_days - 1))
        self.settings.security.horizon.check_day(start_day, "from", latest)
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
        filters = self._filters(team, client_group, priority, stage)
        modes = self._check_modes(day_mode, (day, "as_at"), stages=[stage] if stage else CLOCKED)
        with self._unit() as uow:
            self._check_team(uow, team)
            rows = self._waits(uow, day, group_by, filters, modes)
        for row in rows:  # the board asks every minute: rounded in place
            row["median_days"] = one_decimal(row["median_days"])
            row["p90_days"] = one_decimal(row["p90_days"])
        fields = SHAPES["waits"].fields(group_by)
        if rows and tuple(rows[0]) != fields:  # the store's columns are the declared fields: kept as they come
            rows = [{k: row[k] for k in fields} for row in rows]
        return rows

    def allocation(self, group_by: Sequence[str] | str | None = ("client_group", "stage"), start=None,
                   end=None, team: str | None = None, priority: str | None = None,
                   client_group: str | None = None, stage: str | None = None,
                   day_mode: str | None = None) -> list[dict]:
        """First allocations made from ``start`` to ``end`` (inclusive; default the 28 days to today),
        per group: ``allocated, mean_days, median_days, p90_days, self_allocated, manager_allocated``."""
        group_by = check_group_by(("client_group", "stage") if group_by is None else group_by)
        start_day, end_day = self.period(start, end)
        filters = self._filters(team, client_group, priority, stage)
        modes = self._check_modes(day_mode, (start_day, "from"), (end_day, "to"), stages=[stage] if stage else WAITING)
        with self._unit() as uow:
            self._check_team(uow, team)
            rows = self._allocation(uow, start_day, end_day, group_by, filters, modes)
        shape = SHAPES["allocation"]
        return [shape.row({**row, "mean_days": one_decimal((row["days_total"], row["allocated"])),
                           "median_days": one_decimal(row["median_days"]),
                           "p90_days": one_decimal(row["p90_days"])}, group_by) for row in rows]

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
        filters = self._filters(team, client_group, priority, stage)
        modes = self._check_modes(day_mode, (start_day, "from"), (end_day, "to"), stages=[stage] if stage else CLOCKED)
        spans = period_spans(start_day, end_day, period, today)
        with self._unit() as uow:
            self._check_team(uow, team)
            waits, allocs = uow.reports.trends(spans, group_by, terms(self.settings), filters, modes)
        shape = SHAPES["trends"]
        return [shape.row({**w, "median_days": one_decimal(w["median_days"]), "p90_days": one_decimal(w["p90_days"]),
                           "allocated": a["allocated"],
                           "mean_days_to_allocation": one_decimal((a["days_total"], a["allocated"])),
                           "median_days_to_allocation": one_decimal(a["median_days"])}, group_by)
                for w, a in zip(waits, allocs, strict=True)]  # the same periods × groups, in the same order

    def caseloads(self, team: str | None = None, by: str | None = "worker") -> list[dict]:
        """Active episodes per worker against their cap (the duty desk's count), or per team:
        ``workers, caseload, capacity, over_cap`` (workers above their cap)."""
        by = by or "worker"
        if by not in ("worker", "team"):
            raise ValidationError(f"caseloads by {by!r}: use 'worker' or 'team'", field="by")
        with self._unit() as uow:
            self._check_team(uow, team)
            # The duty desk's own count and cap rule (services.duty.caseloads), shaped as this report's rows.
            today = days.london_date(self.engine.now())
            rows = [SHAPES["caseloads"].row(r, ()) for r in duty.caseloads(uow, self.settings, team, today)]
        if by == "worker":
            return rows
        teams: dict[str, dict] = {}
        for row in rows:  # one row per worker: a few dozen at most
            t = teams.setdefault(row["team"], {"team": row["team"], "workers": 0, "caseload": 0, "weight": 0.0,
                                               "capacity": 0, "over_cap": 0, "away": 0})
            t["workers"] += 1
            t["caseload"] += row["caseload"]
            t["weight"] = round(t["weight"] + row["weight"], 2)
            t["capacity"] += row["cap"]
            t["over_cap"] += bool(row["over_cap"])
            t["away"] += row["away"] is not None
        return [SHAPES["caseloads_by_team"].row(t, ()) for t in teams.values()]

    def supervision(self, as_at=None, team: str | None = None, by: str | None = "worker") -> list[dict]:
        """Supervision against the practice standard in the 12 months to ``as_at`` per worker, or
        (``by="manager"``) direct reports against the span of control per line manager
        (pathway.services.workforce.supervision_report)."""
        rows = self.engine.workforce.supervision_report(as_at, team, by or "worker")
        shape = SHAPES["supervision" if (by or "worker") == "worker" else "supervision_by_manager"]
        return [shape.row(r, ()) for r in rows]

    def outcomes(self, group_by: Sequence[str] | str | None = (), start=None, end=None, team: str | None = None,
                 priority: str | None = None, client_group: str | None = None) -> list[dict]:
        """By month from ``start`` to ``end`` (default the 12 months to today): contacts,
        conversations started, closures and outcomes, repeat contacts, and the shares of the
        month's contacts resolved at contact, met at conversation 1 and needing conversation 3."""
        group_by = check_group_by(group_by)
        shape = SHAPES["outcomes"]
        if any(g not in shape.groupings for g in group_by):
            raise ValidationError("outcomes are grouped by client_group, team or priority, not stage",
                                  field="group_by")
        start_day, end_day = self.period(start, end, default_days=365)
        filters = self._filters(team, client_group, priority)
        spans = period_spans(start_day, end_day, "month", end_day)
        with self._unit() as uow:
            self._check_team(uow, team)
            rows = uow.reports.outcomes(spans, group_by, terms(self.settings), filters)
        out = []
        for row in rows:
            n = row["contacts"]
            out.append(shape.row({
                **row,
                "month": row["period_start"].isoformat()[:7] if hasattr(row["period_start"], "isoformat")
                else str(row["period_start"])[:7],
                "share_resolved_at_contact": one_decimal((100 * row["cohort_resolved_at_contact"], n)),
                "share_met_at_c1": one_decimal((100 * row["cohort_met_at_c1"], n)),
                "share_needing_c3": one_decimal((100 * row["cohort_needing_c3"], n)),
            }, group_by))
        return out

    def forecast(self, group_by: Sequence[str] | str | None = ("team", "stage"), team: str | None = None,
                 as_at=None, client_group: str | None = None, priority: str | None = None,
                 stage: str | None = None, window_days: int = 28, day_mode: str | None = None) -> list[dict]:
        """Per queue: the expected days to allocation of a contact arriving on ``as_at`` (default
        today) = people waiting ÷ first allocations per day over the ``window_days`` to ``as_at``."""
        group_by = check_group_by(("team", "stage") if group_by is None else group_by)
        day = self.as_at(as_at)
        filters = self._filters(team, client_group, priority, stage)
        modes = self._check_modes(day_mode, (day, "as_at"), stages=[stage] if stage else CLOCKED)
        start = day - dt.timedelta(days=window_days - 1)
        with self._unit() as uow:
            self._check_team(uow, team)
            waits = self._waits(uow, day, group_by, filters, modes)
            allocs = self._allocation(uow, start, day, group_by, filters, modes)
        # The same groups, in the same order; the front door is no queue for allocation, so it has no row.
        return [SHAPES["forecast"].row(self._expected(w, a["allocated"], window_days), group_by)
                for w, a in zip(waits, allocs, strict=True) if w.get("stage") != "contact"]

    @staticmethod
    def _expected(waits: dict, allocated: int, window_days: int) -> dict:
        rate = allocated / window_days
        expected = 0.0 if waits["waiting"] == 0 else (None if rate == 0 else waits["waiting"] / rate)
        return {**waits, "allocated_recently": allocated, "per_day": round(rate, 2),
                "expected_days": None if expected is None else one_decimal(expected)}

    def progression(self, team: str | None = None, as_at=None, group_by=None,
                    day_mode: str | None = None) -> list[dict]:
        """Case progression per worker and stage (pathway/services/progression.py)."""
        from pathway.services import progression  # which builds on this module

        return progression.progression(self, team=team, as_at=as_at, group_by=group_by, day_mode=day_mode)

    def front_door(self, team: str | None = None, start=None, end=None, client_group: str | None = None,
                   day_mode: str | None = None) -> list[dict]:
        """The front door per day: contacts, decisions and days to decision (pathway/services/progression.py)."""
        from pathway.services import progression  # which builds on this module

        return progression.front_door(self, team=team, start=start, end=end, client_group=client_group,
                                      day_mode=day_mode)

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
            with self._unit() as uow:
                actual = [a for a in uow.reports.began(day, day + dt.timedelta(days=horizon_days - 1), group_by,
                                                       terms(self.settings), self.settings.day_modes)
                          if a.get("stage") != "contact"]  # as the forecast, without the front door
            for f, a in zip(forecast, actual, strict=True):
                if f["expected_days"] is None or not a["allocated"]:
                    continue
                pairs.append({"as_at": day, **{g: f[g] for g in group_by}, "forecast_days": f["expected_days"],
                              "actual_days": one_decimal((a["days_total"], a["allocated"])),
                              "allocated": a["allocated"]})
        errors = [abs(p["forecast_days"] - p["actual_days"]) for p in pairs]
        return {"pairs": pairs, "queues_compared": len(pairs),
                "mean_absolute_error_days": round(sum(errors) / len(errors), 1) if errors else None}

    # -- the scrutiny panel's reports (pathway/services/scrutiny.py, pathway/services/audits.py) ------

    def three_conversations(self, start=None, end=None, by: str | None = "month", cohort: str | None = None,
                            team: str | None = None, day_mode: str | None = None) -> list[dict]:
        """The Three Conversations measures of the contacts made from ``start`` to ``end`` (default the
        year to today), per week, month or the whole period (``by``), split cohort against the rest when
        ``cohort`` names one: counts, rates with their 95 % Wilson intervals, new people needing
        long-term support per week, and days to the first conversation held."""
        from pathway.services import scrutiny

        return scrutiny.three_conversations(self, start, end, by, cohort, team, day_mode)

    def first_conversation(self, start=None, end=None, team: str | None = None,
                           day_mode: str | None = None) -> list[dict]:
        """Days to the first conversation held in each conversation, by client group."""
        from pathway.services import scrutiny

        return scrutiny.first_conversation(self, start, end, team, day_mode)

    def conversations(self, start=None, end=None, by: str | None = "month", team: str | None = None) -> list[dict]:
        """Conversations held per week or month, by mode, with their minutes."""
        from pathway.services import scrutiny

        return scrutiny.conversations_held(self, start, end, by, team)

    def welfare_checks(self, start=None, end=None, by: str | None = "week", team: str | None = None) -> list[dict]:
        """Welfare checks made per week or month, by outcome, and where each was recorded."""
        from pathway.services import scrutiny

        return scrutiny.welfare_checks(self, start, end, by, team)

    def audits(self, start=None, end=None, team: str | None = None, by: str | None = "team") -> list[dict]:
        """Case-file audits per quarter and team (or ``by="council"``): sampled, audited, coverage of the
        people served, the share rated good or better with its interval, and its change."""
        from pathway.services import audits

        return audits.report(self, start, end, team, by)

    def pack(self, start=None, end=None, team: str | None = None, cohort: str | None = None) -> str:
        """The scrutiny pack for ``start`` to ``end`` (default the year to today): one self-contained HTML
        document whose figures are these reports' own (pathway/services/pack.py)."""
        from pathway.services import pack

        return pack.render(pack.gather(self, start, end, team, cohort))
