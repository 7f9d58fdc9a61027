"""The front door's days are working days by default, the queues' days the council's; hand-computed, on both
databases.

A contact made on Friday 5 June 2026 at 15:30 in London: on Monday 8 June it has waited 1 working day
(3 calendar days), on Tuesday 2, on Wednesday 10 June 3, over its 2-day threshold. A person referred the
same Friday waits in conversation 1's queue in calendar days: 3 days on Monday, 5 on Wednesday. Over
the August bank holiday (Monday 31 August 2026) a contact made on Friday 28 August has waited 1 working day
on Tuesday 1 September (only the Tuesday counts), 2 on Wednesday, 3 on Thursday 3 September.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pathway.domain.days import DayModes
from pathway.services.reports import terms
from pathway.settings import Settings
from pathway.store.reports import Filters, waits_select

FRIDAY = "2026-06-05T14:30:00+00:00"  # 15:30 in London


def noon(day: str) -> str:
    return f"2026-{day}T12:00:00+00:00"


def waits(engine, **asked) -> dict:
    """The north team's waits by stage: (waiting, max days, over threshold) where somebody waits."""
    rows = engine.reports.waits(group_by=["stage"], team="north", **asked)
    return {r["stage"]: (r["waiting"], r["max_days"], r["over_threshold"]) for r in rows if r["waiting"]}


def contact_breaches(engine) -> list[tuple]:
    return [(b["detected_on"], b["threshold_days"], b["days_waiting"]) for b in engine.breaches()
            if b["stage"] == "contact"]


@pytest.fixture
def friday(council, clock):
    """At the front door since Friday afternoon, and in conversation 1's queue since the same Friday."""
    clock.set(FRIDAY)
    front = council.record_contact("FD-1", "mental_health", "north", occurred_at=FRIDAY).id
    queued = council.record_contact("Q-1", "mental_health", "north", occurred_at=FRIDAY).id
    council.fire(queued, "refer", occurred_at=FRIDAY)
    return {"front": front, "queued": queued}


def test_a_friday_contact_is_not_over_its_two_working_days_until_wednesday(council, clock, friday):
    # Monday: 1 working day at the front door (not over 2); 3 calendar days in conversation 1's queue.
    clock.set(noon("06-08"))
    assert waits(council) == {"contact": (1, 1, 0), "c1_waiting": (1, 3, 0)}
    assert council.get(friday["front"]).days_waiting == 1
    assert [ep.days_waiting for ep in council.front_door("north")] == [1]
    assert council.track_waits()["breaches"] == 0
    # Tuesday: 2 working days, still not over (over is strictly more than the threshold).
    clock.set(noon("06-09"))
    assert waits(council) == {"contact": (1, 2, 0), "c1_waiting": (1, 4, 0)}
    assert council.track_waits()["breaches"] == 0
    # Wednesday: 3 working days, over: one breach, recorded on Wednesday with the days as the report counts them.
    clock.set(noon("06-10"))
    assert waits(council) == {"contact": (1, 3, 1), "c1_waiting": (1, 5, 0)}
    assert council.track_waits()["breaches"] == 1
    assert contact_breaches(council) == [(dt.date(2026, 6, 10), 2, 3)]
    # Once per wait: not again later that day, nor on Thursday.
    clock.advance(hours=3)
    assert council.track_waits()["breaches"] == 0
    clock.set(noon("06-11"))
    assert council.track_waits()["breaches"] == 0
    assert len(contact_breaches(council)) == 1
    # The snapshots count as the report: each day's front door row in working days.
    snaps = {r["day"]: (r["max_days"], r["over_threshold"]) for r in council.wait_snapshots()
             if r["stage"] == "contact" and r["waiting"]}
    assert snaps == {dt.date(2026, 6, 8): (1, 0), dt.date(2026, 6, 9): (2, 0), dt.date(2026, 6, 10): (3, 1),
                     dt.date(2026, 6, 11): (4, 1)}


def test_a_past_day_asked_for_a_mode_and_a_council_that_counts_calendar_days(council, clock, friday):
    clock.set(noon("06-10"))
    # Monday, asked on Wednesday: the same figures as on the day.
    assert waits(council, as_at="2026-06-08") == {"contact": (1, 1, 0), "c1_waiting": (1, 3, 0)}
    # A mode asked for counts every stage in it.
    assert waits(council, as_at="2026-06-08", day_mode="calendar") == {"contact": (1, 3, 1), "c1_waiting": (1, 3, 0)}
    assert waits(council, as_at="2026-06-08", day_mode="working") == {"contact": (1, 1, 0), "c1_waiting": (1, 1, 0)}
    # A stage filter counts in that stage's mode.
    rows = council.reports.waits(group_by=[], team="north", stage="contact", as_at="2026-06-08")
    assert (rows[0]["waiting"], rows[0]["max_days"]) == (1, 1)
    # A council that counts the front door in calendar days is over on Monday (3 days), as before.
    council.settings.day_mode_by_stage["contact"] = "calendar"
    assert waits(council, as_at="2026-06-08") == {"contact": (1, 3, 1), "c1_waiting": (1, 3, 0)}
    assert council.get(friday["front"]).days_waiting == 5
    # A council counting working days everywhere: the queue in working days too.
    council.settings.day_mode, council.settings.day_mode_by_stage["contact"] = "working", "working"
    assert waits(council, as_at="2026-06-08") == {"contact": (1, 1, 0), "c1_waiting": (1, 1, 0)}


def test_the_bank_holiday_is_counted_out(council, clock):
    clock.set("2026-08-28T09:00:00+00:00")  # Friday 28 August, 10:00 in London
    ep = council.record_contact("FD-2", "learning_disability", "north").id
    for day, working, over in (("09-01", 1, 0), ("09-02", 2, 0), ("09-03", 3, 1)):
        clock.set(noon(day))
        assert waits(council) == {"contact": (1, working, over)}, day
        assert council.get(ep).days_waiting == working
        council.track_waits()
    # Breached on Thursday 3 September: Saturday, Sunday and the bank holiday Monday are not working days.
    assert contact_breaches(council) == [(dt.date(2026, 9, 3), 2, 3)]
    # Decided on Thursday: 3 working days to decision in the front door's report (6 calendar days).
    council.fire(ep, "refer")
    row = council.reports.front_door(team="north", start="2026-08-28", end="2026-08-28")[0]
    assert (row["decided"], row["median_days_to_decision"]) == (1, 3.0)
    row = council.reports.front_door(team="north", start="2026-08-28", end="2026-08-28", day_mode="calendar")[0]
    assert row["median_days_to_decision"] == 6.0


def test_the_statement_counts_by_stage_only_where_modes_differ():
    """Compiled for SQLite: a CASE over the stage only when the stages counted differ in mode; a council
    counting every stage alike gets the statement of one mode, the working days' calendar only where needed."""
    settings = Settings(_env_file=None)

    def sql(modes: DayModes, **filters) -> str:
        from sqlalchemy.dialects import sqlite

        statement = waits_select(dt.date(2026, 6, 8), ["stage"], terms(settings), Filters(**filters), modes)
        return str(statement.compile(dialect=sqlite.dialect()))

    case = "CASE WHEN (waits_then.stage IN ('contact'))"  # the front door's own count
    by_stage = sql(settings.day_modes)
    assert case in by_stage and "calendar_day" in by_stage
    assert "calendar_day" not in sql(DayModes("calendar"))
    assert "CASE WHEN (waits_then.stage" not in sql(DayModes("working"))
    working = Settings(_env_file=None, day_mode="working").day_modes
    assert working == DayModes("working") and sql(working) == sql(DayModes("working"))
    # One stage asked for: its own mode, no CASE.
    assert "calendar_day" not in sql(settings.day_modes, stage="c1_waiting")
    assert case not in sql(settings.day_modes, stage="contact")
    assert "calendar_day" in sql(settings.day_modes, stage="contact")
