"""Counting days on Europe/London dates, calendar and working."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.domain.days import DayModes, days_between, days_from, parse_time
from pathway.errors import ValidationError

UTC = dt.UTC


def test_calendar_days_use_london_dates():
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST): one day, not zero.
    start = dt.datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert days_from(dt.datetime(2026, 5, 31, 8, tzinfo=UTC), start) == 1
    assert days_from(start, dt.datetime(2026, 6, 1, 22, tzinfo=UTC)) == 0


def test_working_days_skip_weekends_and_bank_holidays():
    # Fri 22 May 2026 -> Tue 26 May 2026: Sat, Sun and the late May bank holiday (Mon 25) don't count.
    assert days_between(dt.date(2026, 5, 22), dt.date(2026, 5, 26), "working") == 1
    assert days_between(dt.date(2026, 5, 22), dt.date(2026, 5, 26), "calendar") == 4
    # Christmas 2026: Fri 25 Dec and Mon 28 Dec (Boxing Day substitute) are bank holidays.
    assert days_between(dt.date(2026, 12, 24), dt.date(2026, 12, 29), "working") == 1
    assert days_between(dt.date(2026, 3, 2), dt.date(2026, 3, 2), "working") == 0


def test_each_stage_counts_in_its_own_mode_else_the_councils():
    modes = DayModes.of_council("calendar", {"contact": "working", "c1_waiting": "calendar"})
    assert modes == DayModes("calendar", (("contact", "working"),))  # a stage counting as the council is no exception
    assert (modes.of("contact"), modes.of("c1_waiting"), modes.of("c3_active")) == ("working", "calendar", "calendar")
    assert modes.among(["c1_waiting", "c2_waiting"]) == "calendar"
    assert modes.among(["contact"]) == "working"
    assert modes.among(["contact", "c1_waiting"]) is None
    # A council counting working days everywhere has no exception left: the front door counts as it does.
    assert DayModes.of_council("working", {"contact": "working"}) == DayModes("working")


def test_bare_date_is_midnight_in_london():
    assert parse_time("2026-07-01") == dt.datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert parse_time("2026-01-05") == dt.datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert parse_time("2026-01-05T10:00:00Z") == dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_bad_time_says_what_is_allowed():
    with pytest.raises(ValidationError, match="not an ISO 8601"):
        parse_time("next tuesday")


@given(start=st.dates(dt.date(2000, 1, 1), dt.date(2060, 12, 31)), span=st.integers(-800, 800))
def test_working_days_are_the_working_days_counted_one_by_one(start, span):
    """The running count per year gives what counting each day in (start, end] gives."""
    from pathway.domain.days import is_working_day

    end = start + dt.timedelta(days=span)
    low, high = min(start, end), max(start, end)
    counted = sum(is_working_day(low + dt.timedelta(days=i)) for i in range(1, (high - low).days + 1))
    assert days_between(start, end, "working") == (counted if end >= start else -counted)
