"""Waits and days to allocation on a hand-built council, every expected figure written out.

The same tests run on SQLite and PostgreSQL (the ``db_url`` fixture), which proves the two
databases give identical figures. Times are UTC; in June London is UTC+1, so an event at
23:30 UTC falls on the next London date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pathway.domain.commands import Move
from pathway.errors import ValidationError
from pathway.services import episodes, reports

TODAY = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
ZERO_WAITS = {"waiting": 0, "median_days": None, "p90_days": None, "max_days": None, "over_threshold": 0}


def at(day: str, time: str = "10:00") -> str:
    return f"2026-{day}T{time}:00+00:00"


def contact(engine, ref, group, *, on, team="north", priority="normal", refer_on=None):
    ep = engine.record_contact(ref, group, team, occurred_at=at(on), priority=priority)
    engine.fire(ep.id, "refer", occurred_at=at(refer_on or on, "10:05"))
    return ep.id


def allocate_self(engine, episode_id, worker, when):
    """A self-allocation as the duty desk records it (allocation='self')."""
    with engine.store.unit() as uow:
        episodes.move(uow, engine.settings, episode_id, Move("allocate", worker=worker, occurred_at=when),
                      allocation="self", actor="test", now=engine.now())


@pytest.fixture
def huddle(council, clock):
    """Who waits in the north and south teams at the end of June 2026."""
    engine = council
    clock.set(TODAY)
    # Learning disability, conversation 1: 29, 11, 11 (a tie) and 3 days on 30 June.
    contact(engine, "LD-1", "learning_disability", on="06-01")
    contact(engine, "LD-2", "learning_disability", on="06-19")
    contact(engine, "LD-3", "learning_disability", on="06-19")
    contact(engine, "LD-4", "learning_disability", on="06-27", priority="high")
    # Mental health: allocated on 12 June, released on 20 June: the clock runs from the contact (20 days).
    m1 = contact(engine, "MH-1", "mental_health", on="06-10")
    engine.fire(m1, "allocate", worker="ben", occurred_at=at("06-12"))
    engine.fire(m1, "release", occurred_at=at("06-20"))
    # A back-dated contact: recorded today, happened on 20 May, referred on 21 May: 41 days.
    contact(engine, "MH-2", "mental_health", on="05-20", refer_on="05-21")
    # A crisis at 23:30 UTC on 27 June is 00:30 on 28 June in London: 2 days in c2_waiting.
    m3 = engine.record_contact("MH-3", "mental_health", "north", occurred_at=at("06-25")).id
    engine.fire(m3, "crisis", occurred_at=at("06-27", "23:30"))
    # Physical support: allocated on 5 June, needs long-term support from 15 June: 15 days in c3_waiting.
    p1 = contact(engine, "PS-1", "physical_support", on="06-02")
    engine.fire(p1, "allocate", worker="ben", occurred_at=at("06-05"))
    engine.fire(p1, "plan", occurred_at=at("06-15"))
    # Resolved at the front door: never waits.
    s1 = engine.record_contact("SS-1", "social_support", "north", occurred_at=at("06-03")).id
    engine.fire(s1, "resolve", outcome="information_and_advice", occurred_at=at("06-03", "11:00"))
    # South: one sensory support contact since yesterday.
    contact(engine, "SE-1", "sensory_support", on="06-29", team="south")
    return engine


def nonzero(rows):
    return [r for r in rows if r.get("waiting", r.get("allocated"))]


def test_waits_today_by_client_group_and_stage(huddle):
    rows = huddle.reports.waits(group_by=["client_group", "stage"])
    assert len(rows) == 7 * 4  # every client group × stage with a clock (front door, queues), empty ones too
    assert [(r["client_group"], r["stage"]) for r in nonzero(rows)] == [
        ("physical_support", "c3_waiting"), ("sensory_support", "c1_waiting"),
        ("learning_disability", "c1_waiting"), ("mental_health", "c1_waiting"), ("mental_health", "c2_waiting"),
    ]
    by_key = {(r["client_group"], r["stage"]): r for r in rows}
    assert by_key["learning_disability", "c1_waiting"] == {
        "client_group": "learning_disability", "stage": "c1_waiting", "waiting": 4, "median_days": 11.0,
        "p90_days": 23.6, "max_days": 29, "over_threshold": 1}
    assert by_key["mental_health", "c1_waiting"] == {
        "client_group": "mental_health", "stage": "c1_waiting", "waiting": 2, "median_days": 30.5,
        "p90_days": 38.9, "max_days": 41, "over_threshold": 2}
    assert by_key["mental_health", "c2_waiting"] == {
        "client_group": "mental_health", "stage": "c2_waiting", "waiting": 1, "median_days": 2.0,
        "p90_days": 2.0, "max_days": 2, "over_threshold": 1}
    assert by_key["physical_support", "c3_waiting"] == {
        "client_group": "physical_support", "stage": "c3_waiting", "waiting": 1, "median_days": 15.0,
        "p90_days": 15.0, "max_days": 15, "over_threshold": 0}
    assert by_key["sensory_support", "c1_waiting"] == {
        "client_group": "sensory_support", "stage": "c1_waiting", "waiting": 1, "median_days": 1.0,
        "p90_days": 1.0, "max_days": 1, "over_threshold": 0}
    assert by_key["social_support", "c1_waiting"] == {"client_group": "social_support", "stage": "c1_waiting",
                                                      **ZERO_WAITS}


def test_waits_all_together_team_and_priority(huddle):
    # Everyone: [1, 2, 3, 11, 11, 15, 20, 29, 41]; median 11; p90 at rank 8.2: 29 + 0.2 × 12 = 31.4.
    assert huddle.reports.waits(group_by=[]) == [
        {"waiting": 9, "median_days": 11.0, "p90_days": 31.4, "max_days": 41, "over_threshold": 4}]
    assert huddle.reports.waits(group_by=["team"]) == [
        {"team": "north", "waiting": 8, "median_days": 13.0, "p90_days": 32.6, "max_days": 41, "over_threshold": 4},
        {"team": "south", "waiting": 1, "median_days": 1.0, "p90_days": 1.0, "max_days": 1, "over_threshold": 0},
    ]
    assert huddle.reports.waits(group_by=["priority"], team="north", client_group="learning_disability") == [
        {"priority": "crisis", **ZERO_WAITS},
        {"priority": "high", "waiting": 1, "median_days": 3.0, "p90_days": 3.0, "max_days": 3, "over_threshold": 0},
        {"priority": "normal", "waiting": 3, "median_days": 11.0, "p90_days": 25.4, "max_days": 29,
         "over_threshold": 1},
        {"priority": "low", **ZERO_WAITS},
    ]
    assert huddle.reports.waits(group_by="stage", team="south") == [
        {"stage": "contact", **ZERO_WAITS},
        {"stage": "c1_waiting", "waiting": 1, "median_days": 1.0, "p90_days": 1.0, "max_days": 1,
         "over_threshold": 0},
        {"stage": "c2_waiting", **ZERO_WAITS},
        {"stage": "c3_waiting", **ZERO_WAITS},
    ]


def test_waits_in_the_past_come_from_the_event_log(huddle):
    # On 15 June: LD-1 had waited 14 days; MH-1 was allocated (not waiting); the back-dated MH-2 had
    # waited 26 days; PS-1 entered c3_waiting that very day (0 days); the others had not yet made contact.
    rows = nonzero(huddle.reports.waits(group_by=["client_group", "stage"], as_at="2026-06-15"))
    assert rows == [
        {"client_group": "physical_support", "stage": "c3_waiting", "waiting": 1, "median_days": 0.0,
         "p90_days": 0.0, "max_days": 0, "over_threshold": 0},
        {"client_group": "learning_disability", "stage": "c1_waiting", "waiting": 1, "median_days": 14.0,
         "p90_days": 14.0, "max_days": 14, "over_threshold": 1},
        {"client_group": "mental_health", "stage": "c1_waiting", "waiting": 1, "median_days": 26.0,
         "p90_days": 26.0, "max_days": 26, "over_threshold": 1},
    ]
    # On 11 June MH-1 waited (contact on 10 June), not yet allocated.
    rows = huddle.reports.waits(group_by=["client_group"], as_at="2026-06-11", client_group="mental_health")
    assert rows == [{"client_group": "mental_health", "waiting": 2, "median_days": 11.5, "p90_days": 19.9,
                     "max_days": 22, "over_threshold": 1}]
    # Before anything happened: nobody.
    assert huddle.reports.waits(group_by=[], as_at="2026-05-01") == [ZERO_WAITS]


def test_just_before_midnight_an_event_stamped_tomorrow_does_not_change_today(council, clock):
    """Events may be stamped up to five minutes ahead of the clock. At 23:58 in London on 30 June
    an allocation stamped 00:02 on 1 July belongs to tomorrow: today the person still waited."""
    clock.set("2026-06-30T22:58:00+00:00")  # 23:58 BST
    waiting = contact(council, "LD-9", "learning_disability", on="06-20")
    council.fire(waiting, "allocate", worker="ben", occurred_at="2026-06-30T23:02:00+00:00")  # 00:02 on 1 July
    assert not reports.settled(dt.date(2026, 6, 30), council.now())
    assert council.reports.waits(group_by=[], as_at="2026-06-30") == [
        {"waiting": 1, "median_days": 10.0, "p90_days": 10.0, "max_days": 10, "over_threshold": 0}]
    # At noon the day is settled: no event can be stamped after it yet, and the shorter statement answers.
    clock.set("2026-07-01T11:00:00+00:00")
    assert reports.settled(dt.date(2026, 7, 1), council.now())
    assert not reports.settled(dt.date(2026, 6, 30), council.now())
    assert council.reports.waits(group_by=[], as_at="2026-06-30")[0]["waiting"] == 1
    assert council.reports.waits(group_by=[])[0]["waiting"] == 0


def test_thresholds_per_client_group(huddle):
    huddle.settings.thresholds.by_client_group["learning_disability"] = {"c1_waiting": 5}
    rows = huddle.reports.waits(group_by=["client_group"], client_group="learning_disability")
    assert rows[0]["over_threshold"] == 3  # 29, 11 and 11 are over 5 days; 3 is not


@pytest.fixture
def allocations(council, clock):
    engine = council
    clock.set(TODAY)
    # Allocated on 31 May: outside June, not counted.
    old = contact(engine, "OLD-1", "mental_health", on="05-25")
    engine.fire(old, "allocate", worker="ben", occurred_at=at("05-31"))
    # Allocated after 2 days by a manager.
    m1 = contact(engine, "MH-1", "mental_health", on="06-10")
    engine.fire(m1, "allocate", worker="ben", occurred_at=at("06-12"))
    # Allocated after 2 days, released, allocated again: one allocation of 2 days.
    m4 = contact(engine, "MH-4", "mental_health", on="06-01")
    engine.fire(m4, "allocate", worker="ben", occurred_at=at("06-03"))
    engine.fire(m4, "release", occurred_at=at("06-05"))
    engine.fire(m4, "allocate", worker="ben", occurred_at=at("06-08"))
    # Allocated after 3 days.
    p1 = contact(engine, "PS-1", "physical_support", on="06-02")
    engine.fire(p1, "allocate", worker="ben", occurred_at=at("06-05"))
    # Self-allocated the same day: 0 days.
    l5 = contact(engine, "LD-5", "learning_disability", on="06-22")
    allocate_self(engine, l5, "amira", at("06-22", "15:00"))
    # A crisis: in c2_waiting from 21 June, self-allocated on 24 June: 3 days.
    x1 = engine.record_contact("SS-1", "social_support", "north", occurred_at=at("06-20")).id
    engine.fire(x1, "crisis", occurred_at=at("06-21"))
    allocate_self(engine, x1, "ben", at("06-24"))
    # South: 29 days, self-allocated on the last day of June.
    s1 = contact(engine, "SE-1", "sensory_support", on="06-01", team="south")
    allocate_self(engine, s1, "cara", at("06-30", "11:00"))
    return engine


def test_days_to_allocation_by_client_group_and_stage(allocations):
    rows = nonzero(allocations.reports.allocation(group_by=["client_group", "stage"],
                                                  start="2026-06-01", end="2026-06-30"))
    assert rows == [
        {"client_group": "physical_support", "stage": "c1_waiting", "allocated": 1, "mean_days": 3.0,
         "median_days": 3.0, "p90_days": 3.0, "self_allocated": 0, "manager_allocated": 1},
        {"client_group": "sensory_support", "stage": "c1_waiting", "allocated": 1, "mean_days": 29.0,
         "median_days": 29.0, "p90_days": 29.0, "self_allocated": 1, "manager_allocated": 0},
        {"client_group": "learning_disability", "stage": "c1_waiting", "allocated": 1, "mean_days": 0.0,
         "median_days": 0.0, "p90_days": 0.0, "self_allocated": 1, "manager_allocated": 0},
        {"client_group": "mental_health", "stage": "c1_waiting", "allocated": 2, "mean_days": 2.0,
         "median_days": 2.0, "p90_days": 2.0, "self_allocated": 0, "manager_allocated": 2},
        {"client_group": "social_support", "stage": "c2_waiting", "allocated": 1, "mean_days": 3.0,
         "median_days": 3.0, "p90_days": 3.0, "self_allocated": 1, "manager_allocated": 0},
    ]


def test_days_to_allocation_overall_and_by_team(allocations):
    # All: [0, 2, 2, 3, 3, 29]: mean 39 / 6 = 6.5; median 2.5; p90 at rank 5.5: 3 + 0.5 × 26 = 16.
    assert allocations.reports.allocation(group_by=[], start="2026-06-01", end="2026-06-30") == [
        {"allocated": 6, "mean_days": 6.5, "median_days": 2.5, "p90_days": 16.0, "self_allocated": 3,
         "manager_allocated": 3}]
    # North, conversation 1 only: [0, 2, 2, 3]: mean 7 / 4 = 1.75, rounded half up to 1.8;
    # p90 at rank 3.7: 2 + 0.7 × 1 = 2.7.
    assert allocations.reports.allocation(group_by=["team"], team="north", stage="c1_waiting",
                                          start="2026-06-01", end="2026-06-30") == [
        {"team": "north", "allocated": 4, "mean_days": 1.8, "median_days": 2.0, "p90_days": 2.7,
         "self_allocated": 1, "manager_allocated": 3}]
    # A period with no allocation: the group is there, with zeros and no averages.
    assert allocations.reports.allocation(group_by=["team"], start="2026-06-13", end="2026-06-21") == [
        {"team": "north", "allocated": 0, "mean_days": None, "median_days": None, "p90_days": None,
         "self_allocated": 0, "manager_allocated": 0},
        {"team": "south", "allocated": 0, "mean_days": None, "median_days": None, "p90_days": None,
         "self_allocated": 0, "manager_allocated": 0},
    ]
    # One day, inclusive at both ends; the default period is the 28 days to today.
    assert allocations.reports.allocation(group_by=[], start="2026-05-31", end="2026-05-31")[0]["allocated"] == 1
    # 3 to 30 June: all six (MH-4's first allocation falls on 3 June itself).
    assert allocations.reports.allocation(group_by=[])[0]["allocated"] == 6


def test_working_days_skip_weekends_and_bank_holidays(council, clock):
    engine = council
    clock.set("2026-05-27T12:00:00+00:00")
    # Waiting from Friday 22 May 2026; Monday 25 May is the late May bank holiday.
    contact(engine, "LD-1", "learning_disability", on="05-22")
    # Waiting from Thursday 21 May; allocated on Wednesday 27 May.
    done = contact(engine, "LD-2", "learning_disability", on="05-21")
    engine.fire(done, "allocate", worker="ben", occurred_at=at("05-27", "09:00"))
    # Calendar: 4 and 5 days. Working days in (22 May, 26 May]: only Tuesday 26 May; from 21 May also Friday 22.
    assert engine.reports.waits(group_by=[], as_at="2026-05-26") == [
        {"waiting": 2, "median_days": 4.5, "p90_days": 4.9, "max_days": 5, "over_threshold": 0}]
    assert engine.reports.waits(group_by=[], as_at="2026-05-26", day_mode="working") == [
        {"waiting": 2, "median_days": 1.5, "p90_days": 1.9, "max_days": 2, "over_threshold": 0}]
    # 21 → 27 May: 6 calendar days; working days Fri 22, Tue 26, Wed 27 = 3.
    assert engine.reports.allocation(group_by=[], start="2026-05-27", end="2026-05-27",
                                     day_mode="working")[0]["mean_days"] == 3.0
    assert engine.reports.allocation(group_by=[], start="2026-05-27", end="2026-05-27")[0]["mean_days"] == 6.0
    # The setting switches the default.
    engine.settings.day_mode = "working"
    assert engine.reports.waits(group_by=[], as_at="2026-05-26")[0]["max_days"] == 2


def test_percentiles_interpolate_like_percentile_cont(council, clock):
    engine = council
    clock.set(TODAY)
    contact(engine, "A-1", "unknown", on="06-27")  # 3 days
    contact(engine, "A-2", "unknown", on="06-19")  # 11 days
    assert engine.reports.waits(group_by=[]) == [
        {"waiting": 2, "median_days": 7.0, "p90_days": 10.2, "max_days": 11, "over_threshold": 0}]


@pytest.mark.parametrize("call, message", [
    (lambda r: r.waits(as_at="2026-07-01"), "in the future"),
    (lambda r: r.waits(as_at="30/06/2026"), "is not a date"),
    (lambda r: r.waits(group_by=["client_group", "colour"]), "group by any of: client_group, stage, team, priority"),
    (lambda r: r.waits(group_by=["team", "team"]), "given twice"),
    (lambda r: r.waits(client_group="dementia"), "client groups are: physical_support"),
    (lambda r: r.waits(team="east"), "teams are: north, south"),
    (lambda r: r.waits(priority="urgent"), "priorities are: crisis, high, normal, low"),
    (lambda r: r.waits(stage="c4_waiting"), "stages are: contact, c1_waiting, c2_waiting, c3_waiting"),
    (lambda r: r.waits(day_mode="lunar"), "use 'calendar' or 'working'"),
    (lambda r: r.allocation(start="2026-06-30", end="2026-06-01"), "from 2026-06-30 is after to 2026-06-01"),
    (lambda r: r.allocation(start="June"), "is not a date"),
    (lambda r: r.waits(as_at="1999-12-31", day_mode="working"), "outside the working-day calendar"),
])
def test_bad_requests_are_refused_with_what_is_allowed(council, clock, call, message):
    clock.set(TODAY)
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        call(council.reports)
