"""The front door, a worker's tray and the listing of episodes, on a hand-built team (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from pathway.errors import Conflict, NotFound, ValidationError

TODAY = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def at(day: str, time: str = "10:00") -> str:
    return f"2026-{day}T{time}:00+00:00"


@pytest.fixture
def team(council, clock):
    """North's front door, amira's tray and a few episodes to list, as at 30 June 2026."""
    e = council
    clock.set(TODAY)
    ids = {}
    ids["early"] = e.record_contact("FD-1", "mental_health", "north", occurred_at=at("06-26")).id
    ids["crisis"] = e.record_contact("FD-2", "mental_health", "north", occurred_at=at("06-29"), priority="crisis").id
    ids["late"] = e.record_contact("FD-3", "learning_disability", "north", occurred_at=at("06-29", "11:00"),
                                   external_ref="CW-77").id
    ids["south"] = e.record_contact("FD-4", "mental_health", "south", occurred_at=at("06-01")).id
    # amira: allocated 10 June, last touched 12 June (stale), with an overdue next action;
    # allocated 20 June, flagged on 28 June, discussed at a huddle on 29 June.
    ids["old"] = e.record_contact("T-1", "physical_support", "north", occurred_at=at("06-01")).id
    e.fire(ids["old"], "refer", occurred_at=at("06-01"))
    e.fire(ids["old"], "allocate", worker="amira", occurred_at=at("06-10"))
    clock.set(at("06-12"))
    e.fire(ids["old"], "next_action", text="ring the GP", due="2026-06-20", occurred_at=at("06-12"))
    clock.set(TODAY)
    ids["busy"] = e.record_contact("T-2", "mental_health", "north", occurred_at=at("06-15")).id
    e.fire(ids["busy"], "refer", occurred_at=at("06-15"))
    e.fire(ids["busy"], "allocate", worker="amira", occurred_at=at("06-20"))
    e.fire(ids["busy"], "flag", reason="carer at breaking point", occurred_at=at("06-28"))
    e.fire(ids["busy"], "discussed", where="huddle", decision="joint visit", next_action="book OT",
           due="2026-07-03", occurred_at=at("06-29"))
    e.fire(ids["busy"], "flag", reason="still unsafe", occurred_at=at("06-29", "15:00"))
    return ids


def test_the_front_door_puts_crises_first_then_arrival(team, council):
    assert [ep.id for ep in council.front_door("north")] == [team["crisis"], team["early"], team["late"]]
    # The front door's days are working days: from Friday 26 June to Tuesday 30 June, Monday and Tuesday (2,
    # not the 4 calendar days); from Monday 29 June, Tuesday.
    assert [ep.days_waiting for ep in council.front_door("north")] == [1, 2, 1]
    assert [ep.id for ep in council.front_door("south")] == [team["south"]]
    with pytest.raises(NotFound, match="unknown team 'east'"):
        council.front_door("east")


def test_the_tray_holds_the_workers_active_episodes_with_their_casework(team, council):
    old, busy = council.tray("amira")
    assert (old.id, old.stage, old.days_since_allocation, old.last_event, old.days_since_last_event) == (
        team["old"], "c1_active", 20, "next_action", 18)
    assert (old.next_action, old.next_action_due, old.next_action_overdue, old.flagged,
            old.days_since_discussed) == ("ring the GP", dt.date(2026, 6, 20), True, False, None)
    assert (busy.id, busy.days_since_allocation, busy.last_event, busy.next_action, busy.next_action_overdue,
            busy.flagged, busy.flag_reason, busy.days_since_discussed) == (
        team["busy"], 10, "flag", "book OT", False, True, "still unsafe", 1)
    assert council.tray("ben") == []
    with pytest.raises(NotFound):
        council.tray("nobody")


def test_the_listing_filters_and_pages_by_a_cursor(team, council):
    def ids(**filters):
        return [ep.id for ep in council.episodes(**filters)["items"]]

    north = [team[k] for k in ("early", "crisis", "late", "old", "busy")]
    assert ids(team="north") == north
    assert ids(worker="amira") == [team["old"], team["busy"]]
    assert ids(stage="contact", client_group="learning_disability") == [team["late"]]
    assert ids(flagged=True) == [team["busy"]]
    assert team["busy"] not in ids(flagged=False)
    assert ids(stale_days=14) == [team["south"], team["old"]]  # no event since 12 June or 1 June
    assert ids(external_ref="CW-77") == [team["late"]]
    assert ids(person_ref="FD-4") == [team["south"]]
    first = council.episodes(team="north", limit=2)
    assert [ep.id for ep in first["items"]] == north[:2]
    # A write between pages moves nothing: a new episode has a higher id, a move keeps its place.
    council.fire(team["crisis"], "refer", occurred_at=at("06-30"))
    new = council.record_contact("FD-9", "mental_health", "north").id
    second = council.episodes(team="north", limit=2, cursor=first["next_cursor"])
    assert [ep.id for ep in second["items"]] == north[2:4]
    third = council.episodes(team="north", limit=2, cursor=second["next_cursor"])
    assert [ep.id for ep in third["items"]] == [north[4], new]
    assert third["next_cursor"] is None


@pytest.mark.parametrize("filters, field", [
    ({"stage": "waiting"}, "stage"), ({"client_group": "aliens"}, "client_group"), ({"stale_days": -1}, "stale_days"),
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"cursor": "42"}, "cursor"),
])
def test_a_bad_listing_says_what_is_allowed(council, filters, field):
    with pytest.raises(ValidationError) as refused:
        council.episodes(**filters)
    assert refused.value.to_dict()["field"] == field


def test_external_ref_is_unique_in_a_team_and_travels_with_the_episode(council):
    ep = council.record_contact("P-1", "mental_health", "north", external_ref="CW-1")
    assert council.get(ep.id).external_ref == "CW-1"
    council.record_contact("P-2", "mental_health", "south", external_ref="CW-1")  # another team's own ids
    with pytest.raises(Conflict, match="already episode"):
        council.record_contact("P-3", "mental_health", "north", external_ref="CW-1")
    with pytest.raises(ValidationError, match="external_ref"):
        council.record_contact("P-3", "mental_health", "north", external_ref="has space")
    with pytest.raises(Conflict, match="already has episode"):  # nor may a transfer make two
        council.fire(ep.id, "transfer", team="south", reason="moved")
    assert council.get(ep.id).team == "north"
    with council.store.unit(write=False) as uow:
        (payload,) = uow.conn.execute(sa.text("SELECT payload FROM outbox WHERE episode_id = :i"), {"i": ep.id}).one()
    assert (payload if isinstance(payload, dict) else json.loads(payload))["external_ref"] == "CW-1"
