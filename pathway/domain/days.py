"""Counting days the way councils do: whole days between Europe/London dates, calendar or working."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from pathway.errors import ValidationError

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC
MODES = ("calendar", "working")


def parse_time(value: str | dt.datetime | dt.date | None, field: str = "occurred_at") -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 text, a datetime or a date (a bare date is midnight in London)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = dt.date.fromisoformat(text)
            else:
                value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{field}: {text!r} is not an ISO 8601 date or time (e.g. 2026-03-02 or 2026-03-02T09:15:00+00:00)",
                field=field,
            ) from None
    try:
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=LONDON)
            return value.astimezone(UTC)
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time(), tzinfo=LONDON).astimezone(UTC)
    except OverflowError:  # an offset that moves the time past year 1 or 9999
        raise ValidationError(f"{field}: {value.isoformat()} is outside the dates the engine takes",
                              field=field) from None
    raise ValidationError(f"{field}: expected an ISO 8601 date or time, got {type(value).__name__}", field=field)


def parse_date(value: str | dt.date | None, field: str = "date") -> dt.date | None:
    """A date from ISO text (YYYY-MM-DD) or a date; a datetime is taken on its London date."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return london_date(value)
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not a date (YYYY-MM-DD)", field=field) from None


def london_date(value: dt.datetime) -> dt.date:
    """The Europe/London calendar date of an instant (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LONDON).date()


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


@lru_cache(maxsize=64)
def bank_holidays(year: int) -> frozenset[dt.date]:
    """England and Wales bank holidays for a year."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def days_between(start: dt.date, end: dt.date, mode: str = "calendar") -> int:
    """Whole days from ``start`` to ``end``: calendar days, or working days counted in (start, end]."""
    if mode == "calendar":
        return (end - start).days
    if mode != "working":
        raise ValidationError(f"day mode {mode!r}: use {' or '.join(map(repr, MODES))}", field="day_mode")
    if end < start:
        return -_working_after(end, start)
    return _working_after(start, end)


@lru_cache(maxsize=128)
def _working_by_day(year: int) -> tuple[int, tuple[int, ...]]:
    """The ordinal of 1 January of ``year``, and for each day of the year (by its index from 1 January)
    the working days from 1 January to it, included."""
    off = bank_holidays(year)
    counts, n = [], 0
    day = dt.date(year, 1, 1)
    while day.year == year:
        n += day.weekday() < 5 and day not in off
        counts.append(n)
        day += dt.timedelta(days=1)
    return dt.date(year, 1, 1).toordinal(), tuple(counts)


def _working_to(day: dt.date) -> int:
    """Working days from 1 January of the day's year to the day, included."""
    first, counts = _working_by_day(day.year)
    return counts[day.toordinal() - first]


def _working_after(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end], ``start`` on or before ``end``: two lookups in each year's running
    count (a page of episodes counts them for every row)."""
    if start.year == end.year:
        return _working_to(end) - _working_to(start)
    count = _working_by_day(start.year)[1][-1] - _working_to(start)
    for year in range(start.year + 1, end.year):
        count += _working_by_day(year)[1][-1]
    return count + _working_to(end)


def days_from(start: dt.datetime, end: dt.datetime, mode: str = "calendar") -> int:
    """Whole days between two instants, on their London dates."""
    return days_between(london_date(start), london_date(end), mode)


@dataclass(frozen=True)
class DayModes:
    """The unit each stage's days are counted in: ``default`` (the council's day mode), but for the
    stages in ``own``, (stage, mode) pairs of those counted otherwise. Hashable, so a report's statement
    is built once per set of day modes."""

    default: str = "calendar"
    own: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_council(cls, default: str, by_stage: Mapping[str, str]) -> DayModes:
        """The council's ``default`` mode and its stages' own (only those that differ are kept, so two
        councils that count alike compare equal)."""
        return cls(default, tuple(sorted((s, m) for s, m in by_stage.items() if m != default)))

    def of(self, stage: str) -> str:
        """The mode a stage's days are counted in: its own, else the council's."""
        for name, mode in self.own:
            if name == stage:
                return mode
        return self.default

    def counts_working(self, stages: Iterable[str]) -> bool:
        """Whether the days of any of ``stages`` are working days."""
        return any(self.of(s) == "working" for s in stages)

    def among(self, stages: Iterable[str]) -> str | None:
        """The one mode the days of every stage in ``stages`` are counted in; None when they differ."""
        found = {self.of(s) for s in stages}
        return found.pop() if len(found) == 1 else None
