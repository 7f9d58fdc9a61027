"""The scrutiny panel's measures: Three Conversations by period and cohort with Wilson intervals,
days to the first conversation held, conversations held by mode, welfare checks made. (A conversation
or a welfare check is recorded as every event that keeps the stage is: pathway.services.kinds.)

The figures are counted by set-based SQL (pathway.store.scrutiny); here the questions are checked
and the rates, their 95 % Wilson intervals and the rounded medians are worked out. Each figure is
defined once, in docs/scrutiny.md.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain import scrutiny
from pathway.errors import ValidationError
from pathway.services.reports import PERIODS, Shape, one_decimal, period_spans
from pathway.settings import Settings
from pathway.store.scrutiny import Split

BY = (*PERIODS, "period")  # a week, a month, or the whole period as one row
DAYS = float | None
PCT = float | None

# A rate's figures: the count (its numerator), its share of the denominator and the Wilson interval.
RATES = {  # the row's name: the store's count, of the period's contacts
    "resolved_at_contact": "resolved", "met_at_c1": "met_at_c1", "needing_c2": "c2", "going_to_c3": "c3",
    "long_term_support": "lts", "repeat_contacts": "repeat",
}


def _rate_fields(name: str) -> dict:
    return {name: int, f"{name}_pct": PCT, f"{name}_low": PCT, f"{name}_high": PCT}


SHAPES = {
    "three_conversations": Shape(
        {"period_start": dt.date, "period_end": dt.date, "cohort": str}, (),
        {"contacts": int, **{k: v for name in RATES for k, v in _rate_fields(name).items()},
         "new_long_term_support": int, "weeks": float, "new_long_term_support_per_week": DAYS,
         "first_conversations_held": int, "median_days_to_first_conversation": DAYS}),
    "first_conversation": Shape({"conversation": str, "client_group": str}, (),
                                {"people": int, "mean_days": DAYS, "median_days": DAYS, "p90_days": DAYS}),
    "conversations": Shape({"period_start": dt.date, "period_end": dt.date, "mode": str}, (),
                           {"held": int, "minutes": int}),
    "welfare_checks": Shape({"period_start": dt.date, "period_end": dt.date, "outcome": str}, (),
                            {"checks": int, "open_episode": int, "resolved_contact": int, "follow_up_contact": int}),
}


def check_by(by: str | None) -> str:
    by = by or "month"
    if by not in BY:
        raise ValidationError(f"by {by!r}: use {', '.join(BY)}", field="by")
    return by


def spans_of(reports, start, end, by: str, default_days: int = 365) -> list[tuple[dt.date, dt.date, dt.date]]:
    """The periods of a scrutiny report from ``start`` to ``end`` (default the year to today)."""
    first, last = reports.period(start, end, default_days=default_days)
    today = reports.today()
    if by == "period":
        return [(first, last, min(last, today))]
    return period_spans(first, last, by, today)


def split_of(settings: Settings, cohort: str | None) -> Split:
    if cohort is None:
        return Split()
    found = settings.scrutiny.cohorts.get(cohort)
    if found is None:
        names = ", ".join(settings.scrutiny.cohorts) or "none configured ([scrutiny.cohorts.<name>] in the TOML)"
        raise ValidationError(f"unknown cohort {cohort!r}; cohorts are: {names}", field="cohort")
    return Split(teams=tuple(found.teams), routes=tuple(found.routes), split=True)


def _cohort_name(value: str, cohort: str | None) -> str:
    return cohort if value == "cohort" and cohort else value


def three_conversations(reports, start=None, end=None, by: str | None = "month", cohort: str | None = None,
                        team: str | None = None, day_mode: str | None = None) -> list[dict]:
    by = check_by(by)
    spans = spans_of(reports, start, end, by)
    split = split_of(reports.settings, cohort)
    first, last = spans[0][0], spans[-1][1]
    mode = reports._check_mode(day_mode, (first, "from"), (last, "to"))
    lo, hi = reports.period(start, end, default_days=365)
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.scrutiny.three_conversations(spans, split, reports.settings.scrutiny.repeat_window_days, mode, team)
    out = []
    for row in rows:
        n = row["contacts"]
        values = {"period_start": row["period_start"], "period_end": row["period_end"],
                  "cohort": _cohort_name(row["cohort"], cohort), "contacts": n}
        for name, count in RATES.items():
            r = scrutiny.rate(row[count], n)
            values.update({name: row[count], f"{name}_pct": r["pct"], f"{name}_low": r["low"],
                           f"{name}_high": r["high"]})
        # the days of the period inside [from, to] and up to today: a week's rate of a part-week is fair
        day_a = max(_as_date(row["period_start"]), lo)
        day_b = min(_as_date(row["period_end"]), hi, reports.today())
        span_days = max((day_b - day_a).days + 1, 0)
        values.update(new_long_term_support=row["new_long_term_support"], weeks=round(span_days / 7, 2),
                      new_long_term_support_per_week=one_decimal((7 * row["new_long_term_support"], span_days)),
                      first_conversations_held=row["first_held"],
                      median_days_to_first_conversation=one_decimal(row["first_held_median"]))
        out.append(SHAPES["three_conversations"].row(values, ()))
    return out


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def first_conversation(reports, start=None, end=None, team: str | None = None,
                       day_mode: str | None = None) -> list[dict]:
    first, last = reports.period(start, end, default_days=365)
    mode = reports._check_mode(day_mode, (first, "from"), (last, "to"))
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.scrutiny.first_conversation(first, last, reports.settings.client_groups, mode, team)
    return [SHAPES["first_conversation"].row({**r, "mean_days": one_decimal((r["days_total"], r["people"])),
                                              "median_days": one_decimal(r["median_days"]),
                                              "p90_days": one_decimal(r["p90_days"])}, ()) for r in rows]


def conversations_held(reports, start=None, end=None, by: str | None = "month", team: str | None = None) -> list[dict]:
    spans = spans_of(reports, start, end, check_by(by))
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.scrutiny.conversations_held(spans, team)
    return [SHAPES["conversations"].row(r, ()) for r in rows]


def welfare_checks(reports, start=None, end=None, by: str | None = "week", team: str | None = None) -> list[dict]:
    spans = spans_of(reports, start, end, check_by(by or "week"), default_days=84)
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.scrutiny.welfare_checks(spans, team)
    return [SHAPES["welfare_checks"].row(r, ()) for r in rows]

