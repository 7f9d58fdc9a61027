"""The scrutiny panel's measures on a small council whose figures are worked out by hand, on SQLite and
PostgreSQL: Three Conversations by cohort with Wilson intervals, days to the first conversation held,
conversations held by mode, and conversations' bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from pathway.errors import Conflict, InvalidTransition, NotFound, StaleVersion, ValidationError
from pathway.settings import Cohort, Scrutiny, Settings

D = dt.date.fromisoformat
NOW = dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.UTC)


def at(day: str, hour: int = 9) -> str:
    return f"2026-{day}T{hour:02d}:00:00+00:00"


@pytest.fixture
def settings():
    return Settings(_env_file=None, scrutiny=Scrutiny(cohorts={"innovation": Cohort(teams=("north",),
                                                                                     routes=("NE1",))}))


@pytest.fixture
def panel(council, clock):
    """Seven episodes; the cohort is team north and contacts given route NE1."""
    e = council
    clock.set(NOW)
    # 1 (cohort): referred, first conversation held 3 days after the contact, met at conversation 1.
    p1 = e.record_contact("P-1", "learning_disability", "north", occurred_at=at("06-01")).id
    e.fire(p1, "refer", occurred_at=at("06-01", 10))
    e.record_conversation(p1, "booked", mode="phone", at=at("06-04"), occurred_at=at("06-02"))
    e.record_conversation(p1, "held", mode="phone", minutes=30, occurred_at=at("06-04"))
    e.fire(p1, "allocate", worker="amira", occurred_at=at("06-05"))
    e.record_conversation(p1, "held", mode="video", minutes=15, occurred_at=at("06-08"))  # not the first
    e.fire(p1, "close", outcome="met_at_c1", occurred_at=at("06-10"))
    # 2 (rest): resolved at contact; P-2 comes back on 20 June (episode 4): a repeat contact.
    p2 = e.record_contact("P-2", "mental_health", "south", occurred_at=at("06-02")).id
    e.fire(p2, "resolve", outcome="information_and_advice", occurred_at=at("06-02", 10))
    # 3 (cohort by its route): c1 held after 10 days, a crisis kept, on to c3, held 6 days after entering it.
    p3 = e.record_contact("P-3", "mental_health", "south", occurred_at=at("06-03"), route="NE1").id
    e.fire(p3, "refer", occurred_at=at("06-03", 10))
    e.record_conversation(p3, "not_attended", mode="home_visit", occurred_at=at("06-10"))
    e.record_conversation(p3, "held", mode="video", minutes=45, occurred_at=at("06-13"))
    e.fire(p3, "allocate", worker="cara", occurred_at=at("06-14"))
    e.fire(p3, "crisis", keep_worker=True, occurred_at=at("06-15"))
    e.fire(p3, "stabilise", to="c3", occurred_at=at("06-16"))
    e.fire(p3, "allocate", worker="cara", occurred_at=at("06-20"))
    e.record_conversation(p3, "held", mode="home_visit", minutes=60, occurred_at=at("06-22"))
    e.fire(p3, "close", outcome="long_term_support", occurred_at=at("06-25"))
    # 4 (rest): the repeat; held the next day; still open.
    p4 = e.record_contact("P-2", "mental_health", "south", occurred_at=at("06-20")).id
    e.fire(p4, "refer", occurred_at=at("06-20", 10))
    e.record_conversation(p4, "held", mode="phone", minutes=20, occurred_at=at("06-21"))
    # 5 (cohort): a crisis from conversation 1's queue, closed with long-term support.
    p5 = e.record_contact("P-5", "physical_support", "north", occurred_at=at("06-05")).id
    e.fire(p5, "refer", occurred_at=at("06-05", 10))
    e.fire(p5, "crisis", occurred_at=at("06-06"))
    e.fire(p5, "allocate", worker="amira", occurred_at=at("06-07"))
    e.fire(p5, "close", outcome="long_term_support", occurred_at=at("06-09"))
    # 6 and 7 (rest): P-6 had long-term support from February, so June's closure is not a new person.
    p7 = e.record_contact("P-6", "physical_support", "south", occurred_at="2026-01-10T09:00:00+00:00").id
    e.fire(p7, "refer", occurred_at="2026-01-10T10:00:00+00:00")
    e.fire(p7, "close", outcome="long_term_support", occurred_at="2026-02-01T09:00:00+00:00")
    p6 = e.record_contact("P-6", "physical_support", "south", occurred_at=at("05-20")).id
    e.fire(p6, "refer", occurred_at=at("05-20", 10))
    e.fire(p6, "close", outcome="long_term_support", occurred_at=at("06-03"))
    e.ids = {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5, "p6": p6, "p7": p7}
    return e


def test_three_conversations_by_cohort_with_wilson_intervals(panel):
    rows = panel.reports.three_conversations(start="2026-06-01", end="2026-06-30", by="period", cohort="innovation")
    assert [(r["period_start"], r["period_end"], r["cohort"]) for r in rows] == [
        (D("2026-06-01"), D("2026-06-30"), "innovation"), (D("2026-06-01"), D("2026-06-30"), "rest")]
    cohort, rest = rows
    # The cohort's June contacts: 1, 3, 5. Met at c1: 1; needing c2: 3, 5; c3: 3; long-term support: 3, 5.
    assert cohort["contacts"] == 3
    assert (cohort["resolved_at_contact"], cohort["resolved_at_contact_pct"], cohort["resolved_at_contact_low"],
            cohort["resolved_at_contact_high"]) == (0, 0.0, 0.0, 56.1)
    assert (cohort["met_at_c1"], cohort["met_at_c1_pct"], cohort["met_at_c1_low"], cohort["met_at_c1_high"]) == \
        (1, 33.3, 6.1, 79.2)
    assert (cohort["needing_c2"], cohort["needing_c2_pct"], cohort["needing_c2_low"], cohort["needing_c2_high"]) == \
        (2, 66.7, 20.8, 93.9)
    assert (cohort["going_to_c3"], cohort["going_to_c3_pct"]) == (1, 33.3)
    assert (cohort["long_term_support"], cohort["long_term_support_pct"]) == (2, 66.7)
    assert (cohort["repeat_contacts"], cohort["repeat_contacts_pct"]) == (0, 0.0)
    # New people needing long-term support: P-5 (9 June) and P-3 (25 June), over 30 days: 2 × 7 / 30.
    assert (cohort["new_long_term_support"], cohort["weeks"], cohort["new_long_term_support_per_week"]) == \
        (2, 4.29, 0.5)
    # First conversations held in c1: 3 days (P-1, 1 → 4 June), 10 days (P-3, 3 → 13 June): median 6.5.
    assert (cohort["first_conversations_held"], cohort["median_days_to_first_conversation"]) == (2, 6.5)
    # The rest's June contacts: 2 (resolved), 4 (a repeat of 2's person, 18 days after its closure).
    assert rest["contacts"] == 2
    assert (rest["resolved_at_contact"], rest["resolved_at_contact_pct"], rest["resolved_at_contact_low"],
            rest["resolved_at_contact_high"]) == (1, 50.0, 9.5, 90.5)
    assert (rest["repeat_contacts"], rest["repeat_contacts_pct"]) == (1, 50.0)
    assert (rest["needing_c2"], rest["going_to_c3"], rest["long_term_support"]) == (0, 0, 0)
    # P-6's closure on 3 June is not new: P-6 had long-term support from 1 February.
    assert (rest["new_long_term_support"], rest["new_long_term_support_per_week"]) == (0, 0.0)
    assert (rest["first_conversations_held"], rest["median_days_to_first_conversation"]) == (1, 1.0)


def test_three_conversations_by_month_without_a_cohort(panel):
    rows = panel.reports.three_conversations(start="2026-05-01", end="2026-06-30", by="month")
    assert [(r["period_start"], r["cohort"], r["contacts"]) for r in rows] == [
        (D("2026-05-01"), "all", 1), (D("2026-06-01"), "all", 5)]
    may, june = rows
    assert (may["long_term_support"], may["long_term_support_pct"], may["long_term_support_low"]) == (1, 100.0, 20.7)
    assert may["new_long_term_support"] == 0  # P-6's closure is in June, and not new
    assert (june["new_long_term_support"], june["first_conversations_held"]) == (2, 3)
    assert june["median_days_to_first_conversation"] == 3.0  # 1, 3, 10
    empty = panel.reports.three_conversations(start="2026-03-01", end="2026-03-31", by="period")[0]
    assert (empty["contacts"], empty["met_at_c1_pct"], empty["met_at_c1_low"], empty["met_at_c1_high"]) == \
        (0, None, None, None)


def test_days_to_first_conversation_by_conversation_and_client_group(panel):
    rows = panel.reports.first_conversation(start="2026-06-01", end="2026-06-30")
    found = {(r["conversation"], r["client_group"]): (r["people"], r["mean_days"], r["median_days"])
             for r in rows if r["people"]}
    # c1: P-1 3 days (LD); P-3 10 days and P-2's repeat 1 day (MH). c3: P-3 from entering c3's queue
    # on 16 June to 22 June. P-5's crisis had no conversation recorded.
    assert found == {("c1", "learning_disability"): (1, 3.0, 3.0), ("c1", "mental_health"): (2, 5.5, 5.5),
                     ("c3", "mental_health"): (1, 6.0, 6.0)}
    assert len(rows) == 3 * len(panel.settings.client_groups)


def test_conversations_held_by_month_and_mode(panel):
    rows = panel.reports.conversations(start="2026-06-01", end="2026-06-30", by="month")
    assert [(r["mode"], r["held"], r["minutes"]) for r in rows] == [
        ("phone", 2, 50), ("video", 2, 60), ("home_visit", 1, 60), ("community_venue", 0, 0)]
    weekly = panel.reports.conversations(start="2026-06-01", end="2026-06-07", by="week")
    assert [(r["mode"], r["held"]) for r in weekly] == [("phone", 1), ("video", 0), ("home_visit", 0),
                                                        ("community_venue", 0)]


def test_a_conversation_keeps_the_stage_and_replays(panel):
    p4 = panel.ids["p4"]
    before = panel.get(p4)
    after = panel.record_conversation(p4, "booked", mode="community_venue", at=at("07-02"))
    assert (after.stage, after.version) == (before.stage, before.version + 1)
    assert panel.replay(p4) == panel.get(p4)
    last = panel.history(p4)[-1]
    assert (last["trigger"], last["from_stage"], last["to_stage"], last["actor"]) == \
        ("conversation", "c1_waiting", "c1_waiting", "test")
    assert last["data"] == {"status": "booked", "mode": "community_venue", "at": "2026-07-02T09:00:00+00:00"}


def test_a_conversation_is_fired_as_any_kind_outside_the_casework_order(panel):
    p4 = panel.ids["p4"]  # referred on 20 June, a conversation held on 21 June
    panel.fire(p4, "flag", reason="carer unwell", occurred_at=at("06-25"))
    progress = panel.progress(p4)
    # A booking recorded late, back-dated before the flag: taken, and the open flag stays as it is.
    booked = panel.fire(p4, "conversation", status="booked", mode="phone", at=at("06-26"), occurred_at=at("06-22"),
                        idempotency_key="b-1")
    assert panel.progress(p4) == progress == panel.progress(p4, replayed=True)
    assert panel.replay(p4) == panel.get(p4)
    # Casework keeps its own order: a note may not go back before the flag.
    with pytest.raises(ValidationError, match="not out of order"):
        panel.fire(p4, "note", note="rang", occurred_at=at("06-24"))
    # The same key and body: the first reply, nothing written; the key with another body, or a stale version,
    # is refused.
    events = len(panel.history(p4))
    again = panel.record_conversation(p4, "booked", mode="phone", at=at("06-26"), occurred_at=at("06-22"),
                                      idempotency_key="b-1")
    assert again == booked and len(panel.history(p4)) == events
    with pytest.raises(Conflict):
        panel.fire(p4, "conversation", status="held", mode="phone", idempotency_key="b-1")
    with pytest.raises(StaleVersion):
        panel.record_conversation(p4, "held", mode="phone", expected_version=booked.version - 1)
    assert len(panel.history(p4)) == events


@pytest.mark.parametrize("fields, field", [
    ({"status": "chatted", "mode": "phone"}, "status"),
    ({"status": "held", "mode": "carrier_pigeon"}, "mode"),
    ({"status": "held"}, "mode"),
    ({"status": "held", "mode": "phone", "minutes": 0}, "minutes"),
    ({"status": "booked", "mode": "phone", "minutes": 30}, "minutes"),
    ({"status": "held", "mode": "phone", "minutes": 1441}, "minutes"),
    ({"status": "held", "mode": "phone", "at": at("06-22")}, "at"),
    ({"status": "booked", "mode": "phone", "at": at("06-19")}, "at"),  # booked for before the contact
    ({"status": "booked", "mode": "phone", "at": "next Tuesday"}, "at"),
    ({"status": "cancelled", "mode": "telepathy"}, "mode"),
    ({"status": "held", "mode": "phone", "occurred_at": at("06-19")}, "occurred_at"),  # before the contact
    ({"status": "held", "mode": "phone", "occurred_at": "2026-07-02T09:00:00+00:00"}, "occurred_at"),  # future
])
def test_a_bad_conversation_is_refused_and_writes_nothing(panel, fields, field):
    p4 = panel.ids["p4"]
    events = len(panel.history(p4))
    with pytest.raises(ValidationError) as err:
        panel.record_conversation(p4, **fields)
    assert err.value.extra.get("field") == field
    assert len(panel.history(p4)) == events


def test_no_conversation_on_a_closed_or_missing_episode(panel):
    closed = panel.ids["p1"]
    events = len(panel.history(closed))
    # A closed episode takes no conversation: its stage and the kinds it takes are named, as for any kind.
    with pytest.raises(InvalidTransition, match="from stage closed; allowed from closed: note") as err:
        panel.record_conversation(closed, "held", mode="phone")
    assert (err.value.stage, err.value.allowed) == ("closed", ["note"])
    assert len(panel.history(closed)) == events
    with pytest.raises(NotFound):
        panel.record_conversation(9999, "held", mode="phone")


def test_bad_questions_are_named(panel):
    with pytest.raises(ValidationError, match="unknown cohort 'east'; cohorts are: innovation"):
        panel.reports.three_conversations(cohort="east")
    with pytest.raises(ValidationError, match="by 'day'"):
        panel.reports.three_conversations(by="day")
    with pytest.raises(ValidationError, match="unknown team"):
        panel.reports.conversations(team="west")
