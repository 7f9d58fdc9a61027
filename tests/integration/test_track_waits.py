"""Wait snapshots and breaches on a hand-built set of episodes, figures checked by hand, on both databases.

As at 2026-06-01 (the test clock), team north:

  c1_waiting  mental_health        A 31 days, B 7, C 3, D 11        -> median 9.0, p90 25.0, max 31, over 1 (>11)
  c1_waiting  learning_disability  E 17, F 13 (threshold set to 14)  -> median 15.0, p90 16.6, max 17, over 1
  c1_waiting  physical_support     J 31 (released: the clock kept)   -> 31.0, 31.0, 31, over 1
  c2_waiting  social_support       G 2, H 1 (crisis threshold 1)     -> median 1.5, p90 1.9, max 2, over 1
  not waiting: I (allocated), K (resolved at contact)
team south: c1_waiting unknown L 1 day.

Percentiles interpolate (PostgreSQL's percentile_cont): the p90 of 3, 7, 11, 31 is at rank
1 + 0.9 * 3 = 3.7, so 11 + 0.7 * (31 - 11) = 25.0.
"""

import datetime as dt

import pytest
import sqlalchemy as sa

from pathway import NotFound, ValidationError
from pathway.services.waits import latest_start
from pathway.settings import Settings, Thresholds
from pathway.store.tables import OUTBOX


@pytest.fixture
def settings():
    # These tests name each person by what matters about them (N-OLD, A, B): a council whose references
    # look like that says so in its reference pattern.
    return Settings(_env_file=None, security={"person_ref_pattern": r"^[A-Z0-9][A-Z0-9-]*$"})

GROUPS = 7  # default client groups
STAGES = 4  # contact, c1_waiting, c2_waiting, c3_waiting


def contact(e, ref, group, on, team="north"):
    # A reference as the council's policy has it (letters, a separator, digits first).
    return e.record_contact(f"REF-1{ref}", group, team, occurred_at=f"{on}T10:00:00+01:00")


def referred(e, ref, group, on, team="north"):
    ep = contact(e, ref, group, on, team)
    return e.fire(ep.id, "refer", occurred_at=f"{on}T11:00:00+01:00")


@pytest.fixture
def pathway(council):
    e = council
    e.settings = e.settings.model_copy(update={"thresholds": Thresholds(
        by_client_group={"learning_disability": {"c1_waiting": 14}})})
    eps = {}
    for ref, on in (("A", "2026-05-01"), ("B", "2026-05-25"), ("C", "2026-05-29"), ("D", "2026-05-21")):
        eps[ref] = referred(e, ref, "mental_health", on)
    eps["E"] = referred(e, "E", "learning_disability", "2026-05-15")
    eps["F"] = referred(e, "F", "learning_disability", "2026-05-19")
    for ref, on in (("G", "2026-05-30"), ("H", "2026-05-31")):
        ep = contact(e, ref, "social_support", on)
        eps[ref] = e.fire(ep.id, "crisis", occurred_at=f"{on}T12:00:00+01:00")
    eps["I"] = referred(e, "I", "mental_health", "2026-05-01")
    e.fire(eps["I"].id, "allocate", worker="amira", occurred_at="2026-05-10")
    eps["J"] = referred(e, "J", "physical_support", "2026-05-01")
    e.fire(eps["J"].id, "allocate", worker="ben", occurred_at="2026-05-05")
    e.fire(eps["J"].id, "release", occurred_at="2026-05-06")
    eps["K"] = contact(e, "K", "mental_health", "2026-05-02")
    e.fire(eps["K"].id, "resolve", outcome="signposted", occurred_at="2026-05-02T12:00:00+01:00")
    eps["L"] = referred(e, "L", "unknown", "2026-05-31", team="south")
    return eps


def figures(rows):
    """The snapshot rows where somebody waited, as (team, group, stage): (waiting, median, p90, max, over)."""
    return {(r["team"], r["client_group"], r["stage"]): (r["waiting"], r["median_days"], r["p90_days"],
                                                         r["max_days"], r["over_threshold"])
            for r in rows if r["waiting"]}


def outbox_kinds(engine):
    with engine.db.connect() as conn:
        return [r.kind for r in conn.execute(sa.select(OUTBOX.c.kind).order_by(OUTBOX.c.id))]


def test_snapshot_and_breaches_checked_by_hand(pathway, council):
    result = council.track_waits()
    assert result == {"as_at": "2026-06-01", "snapshots": {"2026-06-01": 2 * GROUPS * STAGES}, "breaches": 4}
    rows = council.wait_snapshots("2026-06-01")
    assert len(rows) == 2 * GROUPS * STAGES  # every team x group x stage, zeros where nobody waits
    assert figures(rows) == {
        ("north", "mental_health", "c1_waiting"): (4, 9.0, 25.0, 31, 1),
        ("north", "learning_disability", "c1_waiting"): (2, 15.0, 16.6, 17, 1),
        ("north", "physical_support", "c1_waiting"): (1, 31.0, 31.0, 31, 1),
        ("north", "social_support", "c2_waiting"): (2, 1.5, 1.9, 2, 1),
        ("south", "unknown", "c1_waiting"): (1, 1.0, 1.0, 1, 0),
    }
    empty = [r for r in rows if not r["waiting"]][0]
    assert (empty["over_threshold"], empty["median_days"], empty["max_days"]) == (0, None, None)
    breaches = {(b["episode_id"], b["stage"], b["threshold_days"], b["days_waiting"]) for b in council.breaches()}
    ids = {k: v.id for k, v in pathway.items()}
    assert breaches == {(ids["A"], "c1_waiting", 11, 31), (ids["E"], "c1_waiting", 14, 17),
                        (ids["J"], "c1_waiting", 11, 31), (ids["G"], "c2_waiting", 1, 2)}
    assert outbox_kinds(council).count("breach") == 4


def test_running_twice_the_same_day_changes_nothing(pathway, council, clock):
    council.track_waits()
    before = council.wait_snapshots()
    clock.advance(hours=5)  # the hourly schedule runs again later that day
    assert council.track_waits() == {"as_at": "2026-06-01", "snapshots": {"2026-06-01": 0}, "breaches": 0}
    assert council.wait_snapshots() == before
    assert len(council.breaches()) == 4 and outbox_kinds(council).count("breach") == 4


def test_todays_rows_follow_the_day_and_a_finished_day_is_never_rewritten(pathway, council, clock):
    council.track_waits(as_at="2026-05-31")
    council.track_waits()
    may31 = council.wait_snapshots("2026-05-31")
    council.fire(pathway["B"].id, "allocate", worker="amira", occurred_at="2026-06-01T09:00:00+00:00")
    # Back-dated: D was in fact allocated on 30 May. The finished day keeps what was recorded.
    council.fire(pathway["D"].id, "allocate", worker="ben", occurred_at="2026-05-30T12:00:00+01:00")
    clock.advance(hours=1)
    assert council.track_waits()["snapshots"] == {"2026-06-01": 1}  # only the row that changed
    key = ("north", "mental_health", "c1_waiting")
    assert figures(council.wait_snapshots("2026-06-01"))[key] == (2, 17.0, 28.2, 31, 1)  # C 3, A 31: p90 3 + 0.9 * 28
    (row,) = [r for r in council.wait_snapshots("2026-06-01") if (r["team"], r["client_group"], r["stage"]) == key]
    assert row["taken_at"] == clock.at
    assert council.wait_snapshots("2026-05-31") == may31


def test_a_breach_is_recorded_once_per_wait_and_a_release_does_not_restart_it(pathway, council, clock):
    council.track_waits()
    j = pathway["J"].id
    council.fire(j, "allocate", worker="ben", occurred_at="2026-06-01T09:00:00+00:00")
    council.fire(j, "release", occurred_at="2026-06-01T09:00:00+00:00")
    clock.advance(days=1)
    council.track_waits()
    assert [b["episode_id"] for b in council.breaches()].count(j) == 1
    # A day later D waits 12 days (over 11) and H's crisis 2 days (over 1): two new breaches.
    assert {b["episode_id"] for b in council.breaches()} - {pathway[k].id for k in "AEJG"} == {
        pathway["D"].id, pathway["H"].id}


def test_a_missed_day_is_back_filled_from_the_event_log(pathway, council):
    assert council.track_waits(as_at="2026-05-28")["breaches"] == 0  # a past day records no breaches
    result = council.track_waits()
    assert list(result["snapshots"]) == ["2026-05-29", "2026-05-30", "2026-05-31", "2026-06-01"]
    assert figures(council.wait_snapshots("2026-05-29")) == {
        ("north", "mental_health", "c1_waiting"): (4, 6.0, 22.0, 28, 1),  # 0, 4, 8, 28
        ("north", "learning_disability", "c1_waiting"): (2, 12.0, 13.6, 14, 0),  # 10, 14: not over 14
        ("north", "physical_support", "c1_waiting"): (1, 28.0, 28.0, 28, 1),
    }
    assert figures(council.wait_snapshots("2026-06-01"))[("north", "mental_health", "c1_waiting")] == (
        4, 9.0, 25.0, 31, 1)
    days = sorted({r["day"] for r in council.wait_snapshots()})
    assert days == [dt.date(2026, 5, d) for d in (28, 29, 30, 31)] + [dt.date(2026, 6, 1)]


def test_bad_requests_are_refused_and_write_nothing(pathway, council):
    with pytest.raises(NotFound, match="unknown team 'nowhere'; teams are: "):
        council.track_waits(team="nowhere")
    with pytest.raises(ValidationError, match="in the future"):
        council.track_waits(as_at="2026-06-02")
    with pytest.raises(ValidationError, match="not a date"):
        council.track_waits(as_at="yesterday")
    assert council.wait_snapshots() == [] and council.breaches() == []


def test_one_team_only(pathway, council):
    council.track_waits(team="south")
    assert {r["team"] for r in council.wait_snapshots()} == {"south"}
    assert council.breaches() == []


@pytest.mark.parametrize("mode", ["calendar", "working"])
@pytest.mark.parametrize("threshold", [0, 1, 2, 5, 11, 28])
def test_latest_start_is_the_last_day_over_the_threshold(mode, threshold):
    from pathway.domain.days import days_between

    for as_at in (dt.date(2026, 6, 1), dt.date(2026, 12, 29), dt.date(2026, 4, 6)):
        start = latest_start(as_at, threshold, mode)
        assert days_between(start, as_at, mode) > threshold
        assert days_between(start + dt.timedelta(days=1), as_at, mode) <= threshold
