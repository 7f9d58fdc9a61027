"""Case progression and the front door's report: figures checked by hand on a small team, and equal to a
plain-Python computation from the event log for random councils, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reports_properties import FIRST, NOW, build, clear, council_plan, one_decimal
from test_tray import TODAY, at

from pathway.domain import days
from pathway.errors import PathwayError, ValidationError


@pytest.fixture
def team(council, clock):
    e = council
    clock.set(at("06-12", "12:00"))
    # amira, c1: allocated 10 June, nothing since the next action of 12 June (due 20 June, overdue).
    a = e.record_contact("P-65", "mental_health", "north", occurred_at=at("06-01")).id
    e.fire(a, "refer", occurred_at=at("06-01"))
    e.fire(a, "allocate", worker="amira", occurred_at=at("06-10"))
    e.fire(a, "next_action", text="ring the GP", due="2026-06-20", occurred_at=at("06-12"))
    clock.set(TODAY)
    # amira, c1: allocated 20 June, flagged, discussed at the huddle on 29 June, flagged again.
    b = e.record_contact("P-66", "mental_health", "north", occurred_at=at("06-15")).id
    e.fire(b, "refer", occurred_at=at("06-15"))
    e.fire(b, "allocate", worker="amira", occurred_at=at("06-20"))
    e.fire(b, "flag", reason="carer at breaking point", occurred_at=at("06-28"))
    e.fire(b, "discussed", where="huddle", decision="joint visit", next_action="book OT", due="2026-07-03",
           occurred_at=at("06-29"))
    e.fire(b, "flag", reason="still unsafe", occurred_at=at("06-29", "15:00"))
    # ben, c3: allocated 16 June, nothing since: 14 days, not more, so not yet standing still.
    c = e.record_contact("P-67", "physical_support", "north", occurred_at=at("06-02")).id
    for trigger, day, extra in (("refer", "06-02", {}), ("allocate", "06-05", {"worker": "ben"}),
                                ("plan", "06-15", {}), ("allocate", "06-16", {"worker": "ben"})):
        e.fire(c, trigger, occurred_at=at(day), **extra)
    # ben, c1: referred the day of the contact (25 June), allocated on 26 June.
    d = e.record_contact("P-68", "learning_disability", "north", occurred_at=at("06-25")).id
    e.fire(d, "refer", occurred_at=at("06-25", "11:00"))
    e.fire(d, "allocate", worker="ben", occurred_at=at("06-26"))
    # South's cara: allocated on 1 June and never touched since.
    s = e.record_contact("P-83", "mental_health", "south", occurred_at=at("06-01")).id
    e.fire(s, "refer", occurred_at=at("06-01"))
    e.fire(s, "allocate", worker="cara", occurred_at=at("06-01"))
    # The front door: on Friday 26 June one contact not yet decided; on Saturday 27 June three decided the
    # same day (a crisis), on the Sunday (a referral) and on Monday 29 June (a resolution): 0, 1 and 2 calendar
    # days, 0, 0 and 1 working days; on 29 June two not yet decided.
    e.record_contact("P-701", "mental_health", "north", occurred_at=at("06-26"))
    g = e.record_contact("P-71", "mental_health", "north", occurred_at=at("06-27")).id
    e.fire(g, "resolve", outcome="signposted", occurred_at=at("06-29"))
    h = e.record_contact("P-72", "mental_health", "north", occurred_at=at("06-27", "09:00")).id
    e.fire(h, "note", note="rang back", occurred_at=at("06-27", "12:00"))  # a note is no decision
    e.fire(h, "refer", occurred_at=at("06-28"))
    i = e.record_contact("P-73", "mental_health", "north", occurred_at=at("06-27", "08:00")).id
    e.fire(i, "crisis", occurred_at=at("06-27", "20:00"))
    e.record_contact("P-702", "mental_health", "north", occurred_at=at("06-29"), priority="crisis")
    e.record_contact("P-703", "mental_health", "north", occurred_at=at("06-29", "11:00"))
    return e


def test_case_progression_checked_by_hand(team):
    assert team.reports.progression(team="north") == [
        {"worker": "amira", "stage": "c1_active", "active": 2, "median_days_active": 15.0, "max_days_active": 20,
         "stale": 1, "overdue_next_actions": 1, "flagged_not_discussed": 1, "longest_since_discussed": 20},
        {"worker": "ben", "stage": "c1_active", "active": 1, "median_days_active": 4.0, "max_days_active": 4,
         "stale": 0, "overdue_next_actions": 0, "flagged_not_discussed": 0, "longest_since_discussed": 4},
        {"worker": "ben", "stage": "c3_active", "active": 1, "median_days_active": 14.0, "max_days_active": 14,
         "stale": 0, "overdue_next_actions": 0, "flagged_not_discussed": 0, "longest_since_discussed": 14},
    ]
    assert team.reports.progression(group_by="stage") == [
        {"stage": "c1_active", "active": 4, "median_days_active": 15.0, "max_days_active": 29, "stale": 2,
         "overdue_next_actions": 1, "flagged_not_discussed": 1, "longest_since_discussed": 29},
        {"stage": "c3_active", "active": 1, "median_days_active": 14.0, "max_days_active": 14, "stale": 0,
         "overdue_next_actions": 0, "flagged_not_discussed": 0, "longest_since_discussed": 14},
    ]
    # A stage may be given longer before an episode in it is standing still.
    team.settings.progression.stale_days_by_stage["c1_active"] = 30
    assert [r["stale"] for r in team.reports.progression(team="north")] == [0, 0, 0]
    with pytest.raises(ValidationError, match="grouped by worker and/or stage"):
        team.reports.progression(group_by="client_group")
    with pytest.raises(ValidationError, match="unknown team"):
        team.reports.progression(team="east")


def test_the_front_door_report_checked_by_hand(team):
    rows = team.reports.front_door(team="north", start="2026-06-25", end="2026-06-29")
    zero = {"contacts": 0, "decided": 0, "decided_same_day": 0, "median_days_to_decision": None,
            "p90_days_to_decision": None, "resolved_at_contact": 0}
    assert rows == [
        {"day": dt.date(2026, 6, 25), "contacts": 1, "decided": 1, "decided_same_day": 1,
         "median_days_to_decision": 0.0, "p90_days_to_decision": 0.0, "resolved_at_contact": 0,
         "share_resolved_at_contact": 0.0},
        {"day": dt.date(2026, 6, 26), **zero, "contacts": 1, "share_resolved_at_contact": 0.0},
        # The front door's days are working days: 0, 0 and 1 (Sunday is no working day, Monday is): median 0;
        # p90 at rank 2.8: 0 + 0.8 x 1.
        {"day": dt.date(2026, 6, 27), "contacts": 3, "decided": 3, "decided_same_day": 1,
         "median_days_to_decision": 0.0, "p90_days_to_decision": 0.8, "resolved_at_contact": 1,
         "share_resolved_at_contact": 33.3},
        {"day": dt.date(2026, 6, 28), **zero, "share_resolved_at_contact": None},
        {"day": dt.date(2026, 6, 29), **zero, "contacts": 2, "share_resolved_at_contact": 0.0},
    ]
    # In calendar days, when asked for or when the council counts the front door so: 0, 1 and 2, median 1;
    # p90 at rank 2.8: 1 + 0.8 x 1.
    row = team.reports.front_door(team="north", start="2026-06-27", end="2026-06-27", day_mode="calendar")[0]
    assert (row["median_days_to_decision"], row["p90_days_to_decision"]) == (1.0, 1.8)
    team.settings.day_mode_by_stage["contact"] = "calendar"
    row = team.reports.front_door(team="north", start="2026-06-27", end="2026-06-27")[0]
    assert (row["median_days_to_decision"], row["p90_days_to_decision"]) == (1.0, 1.8)


def test_the_front_door_waits_breaches_and_snapshots(team):
    def front_door():
        rows = team.reports.waits(group_by=["client_group"], stage="contact", team="north")
        return {r["client_group"]: r for r in rows}["mental_health"]

    def snapshot():
        snap = [r for r in team.wait_snapshots() if r["stage"] == "contact" and r["waiting"]]
        return [(r["team"], r["client_group"], r["waiting"], r["over_threshold"]) for r in snap]

    # On Tuesday 30 June, F1 (since Friday 26 June) has waited 2 working days, Monday and Tuesday: not over
    # the 2-day threshold; F2 and F3 (since Monday) 1 day each. Days 1, 1, 2: p90 at rank 2.8, 1 + 0.8 x 1.
    assert front_door() == {"client_group": "mental_health", "waiting": 3, "median_days": 1.0,
                            "p90_days": 1.8, "max_days": 2, "over_threshold": 0}
    team.track_waits()
    assert [b for b in team.breaches() if b["stage"] == "contact"] == []
    assert snapshot() == [("north", "mental_health", 3, 0)]
    # A council that counts the front door in calendar days: F1 waits 4 days, over the threshold.
    team.settings.day_mode_by_stage["contact"] = "calendar"
    assert front_door() == {"client_group": "mental_health", "waiting": 3, "median_days": 1.0,
                            "p90_days": 3.4, "max_days": 4, "over_threshold": 1}
    team.track_waits()
    breaches = [b for b in team.breaches() if b["stage"] == "contact"]
    assert [(b["threshold_days"], b["days_waiting"]) for b in breaches] == [(2, 4)]
    assert snapshot() == [("north", "mental_health", 3, 1)]  # today's rows follow the day


# -- the same figures from the event log in plain Python ------------------------------------------------

KIND_MOVES = st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["flag", "discussed", "next_action", "note",
                                                                    "conversation"]),
                                st.integers(0, 40), st.integers(-5, 20)), max_size=12)


def add_kinds(engine, plan) -> None:
    ids = [ep.id for ep in engine.episodes(limit=500)["items"]]
    for n, kind, day, due_in in plan:
        if not ids:
            return
        ep = engine.get(ids[n % len(ids)])
        when = max(dt.datetime.combine(FIRST + dt.timedelta(days=day + 40), dt.time(12), tzinfo=dt.UTC),
                   ep.stage_at)
        if when > NOW:
            continue
        due = (days.london_date(NOW) + dt.timedelta(days=due_in)).isoformat()
        fields = {"flag": {"reason": "r"}, "note": {"note": "n"}, "next_action": {"text": "t", "due": due},
                  "discussed": {"where": "huddle", "decision": "d", "next_action": "t", "due": due},
                  "conversation": {"status": "held", "mode": "phone", "minutes": 20}}[kind]
        try:
            engine.fire(ep.id, kind, occurred_at=when, **fields)
        except PathwayError:
            pass  # refused (a flag on a flagged episode, a due date in the past, …): nothing written


def plain_progression(engine, today: dt.date, stale: int) -> dict:
    groups = defaultdict(list)
    for ep in engine.episodes(limit=500)["items"]:
        if not ep.stage.endswith("_active"):
            continue
        log = engine.history(ep.id)
        flagged, due, discussed_on = False, None, None
        for e in log:
            d = e["data"]
            if e["trigger"] == "flag":
                flagged = True
            elif e["trigger"] == "discussed":
                flagged, discussed_on = False, e["occurred_on"]
                if d.get("due"):
                    due = dt.date.fromisoformat(d["due"])
            elif e["trigger"] == "next_action":
                due = dt.date.fromisoformat(d["due"])
        allocated_on = days.london_date(ep.allocated_at)
        groups[(ep.worker, ep.stage)].append({
            "days": (today - allocated_on).days, "stale": (today - log[-1]["occurred_on"]).days > stale,
            "overdue": due is not None and due < today, "flagged": flagged,
            "since": (today - (discussed_on or allocated_on)).days})
    out = {}
    for k, rows in groups.items():
        values = sorted(r["days"] for r in rows)
        out[k] = {"active": len(rows), "median_days_active": one_decimal(statistics.median(values)),
                  "max_days_active": max(values), "stale": sum(r["stale"] for r in rows),
                  "overdue_next_actions": sum(r["overdue"] for r in rows),
                  "flagged_not_discussed": sum(r["flagged"] for r in rows),
                  "longest_since_discussed": max(r["since"] for r in rows)}
    return out


def plain_front_door(engine, start: dt.date, end: dt.date) -> dict:
    out = {}
    by_day = defaultdict(list)
    for ep in engine.episodes(limit=500)["items"]:
        log = engine.history(ep.id)
        contact_on = log[0]["occurred_on"]
        if start <= contact_on <= end:
            decision = next((e for e in log if e["from_stage"] == "contact" and e["to_stage"] != "contact"), None)
            # The front door's days, in the mode the settings give the stage (working days by default).
            mode = engine.settings.day_mode_by_stage.get("contact", engine.settings.day_mode)
            waited = decision and days.days_between(contact_on, decision["occurred_on"], mode)
            by_day[contact_on].append(decision and (decision["trigger"], waited, decision["occurred_on"]))
    for day, found in by_day.items():
        decided = sorted(d[1] for d in found if d)
        median = p90 = None
        if decided:
            median = statistics.median(decided)
            p90 = statistics.quantiles(decided, n=10, method="inclusive")[8] if len(decided) > 1 else decided[0]
        # The same day is the date, not 0 days: a Saturday's contact decided on Sunday is 0 working days later.
        same_day = sum(1 for d in found if d and d[2] == day)
        out[day] = {"contacts": len(found), "decided": len(decided), "decided_same_day": same_day,
                    "median_days_to_decision": one_decimal(median), "p90_days_to_decision": one_decimal(p90),
                    "resolved_at_contact": sum(1 for d in found if d and d[0] == "resolve")}
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(plan=council_plan, kinds=KIND_MOVES, span=st.tuples(st.integers(0, 60), st.integers(0, 30)))
def test_progression_and_the_front_door_equal_a_plain_computation(engine, clock, plan, kinds, span):
    clock.set(NOW)
    clear(engine)
    build(engine, plan)
    add_kinds(engine, kinds)
    for ep in engine.episodes(limit=500)["items"]:  # the log is the truth, conversations among the kinds
        assert engine.replay(ep.id) == engine.get(ep.id)
        assert engine.progress(ep.id, replayed=True) == engine.progress(ep.id)
    today = days.london_date(NOW)
    rows = engine.reports.progression()
    want = plain_progression(engine, today, engine.settings.progression.stale_days)
    assert {(r["worker"], r["stage"]): {k: v for k, v in r.items() if k not in ("worker", "stage")}
            for r in rows} == want
    start = FIRST + dt.timedelta(days=span[0])
    end = start + dt.timedelta(days=span[1])
    want = plain_front_door(engine, start, end)
    for row in engine.reports.front_door(start=start, end=end):
        figures = {k: v for k, v in row.items() if k not in ("day", "share_resolved_at_contact")}
        assert figures == want.pop(row["day"], {**dict.fromkeys(figures, 0), "median_days_to_decision": None,
                                                "p90_days_to_decision": None}), row["day"]
    assert want == {}


def test_a_reclassified_episode_counts_under_its_group_at_each_date(council, clock):
    clock.set(TODAY)
    ep = council.record_contact("R-1", "unknown", "north", occurred_at=at("06-01"))
    council.fire(ep.id, "refer", occurred_at=at("06-01"))
    council.fire(ep.id, "reclassify", client_group="learning_disability", reason="assessed", occurred_at=at("06-20"))

    def waiting(as_at):
        return {r["client_group"]: r["waiting"] for r in council.reports.waits(group_by=["client_group"], as_at=as_at)
                if r["waiting"]}

    assert waiting("2026-06-10") == {"unknown": 1}
    assert waiting("2026-06-20") == {"learning_disability": 1}
    assert waiting("2026-06-30") == {"learning_disability": 1}
    council.fire(ep.id, "allocate", worker="amira", occurred_at=at("06-30"))
    council.fire(ep.id, "reclassify", client_group="mental_health", reason="diagnosis",
                 occurred_at=at("06-30", "11:00"))
    # The allocation on 30 June is counted under the group the episode had then: learning disability.
    rows = council.reports.allocation(group_by=["client_group"], start="2026-06-30", end="2026-06-30")
    assert {r["client_group"]: r["allocated"] for r in rows if r["allocated"]} == {"learning_disability": 1}
    assert waiting("2026-06-15") == {"unknown": 1}
