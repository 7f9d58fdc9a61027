"""Contacts, episodes and events over HTTP, for every role, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from api_support import assert_error, count, make_api

EPISODE_FIELDS = {"id", "person_ref", "client_group", "team", "stage", "worker", "priority", "route", "contact_at",
                  "stage_at", "wait_from", "allocated_at", "outcome", "closed_at", "days_waiting",
                  "days_to_allocation", "external_ref"}


@pytest.fixture
def api(council):
    return make_api(council)


def test_health_needs_no_token(api):
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "broker": "eager"}


def test_missing_or_wrong_token_is_401(api, subtests):
    for header in (None, "Bearer pw_not-a-token", "Basic abc", "Bearer "):
        with subtests.test(header=header):
            headers = {"Authorization": header} if header else {}
            r = api.post("/contacts", headers=headers, json={"person_ref": "LAS-1", "client_group": "unknown",
                                                             "team": "north"})
            assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
    assert count(api.engine, "episode") == 0


@pytest.mark.parametrize("who", ["integration", "manager", "amira"])
def test_contact_is_recorded_by_each_role_with_its_actor(api, who):
    r = api.post("/contacts", who, json={"person_ref": "LAS-1042", "client_group": "learning_disability",
                                         "team": "north", "occurred_at": "2026-05-30T09:15:00+00:00",
                                         "priority": "high", "route": "gp"})
    assert r.status_code == 201, r.text
    ep = r.json()
    assert set(ep) == EPISODE_FIELDS  # no version, request_hash or idempotency_key
    assert (ep["person_ref"], ep["stage"], ep["team"], ep["priority"]) == ("LAS-1042", "contact", "north", "high")
    events = api.get(f"/episodes/{ep['id']}/events", who).json()
    assert [e["actor"] for e in events] == [api.actors[who]]
    assert set(events[0]) == {"seq", "trigger", "from_stage", "to_stage", "occurred_at", "recorded_at", "actor",
                              "worker", "outcome", "note", "allocation", "data"}


def test_contact_outside_the_callers_team_or_role_is_403(api, subtests):
    for who, team in (("cara", "north"), ("amira", "south"), ("manager", "south"), ("admin", "north")):
        with subtests.test(who=who, team=team):
            r = api.post("/contacts", who, json={"person_ref": "LAS-1", "client_group": "unknown", "team": team})
            assert_error(r, 403, "forbidden")
    assert count(api.engine, "episode") == 0


def test_same_idempotency_key_and_body_returns_the_first_contact(api):
    body = {"person_ref": "LAS-7", "client_group": "mental_health", "team": "north", "idempotency_key": "cw-77"}
    first = api.post("/contacts", "integration", json=body)
    again = api.post("/contacts", "integration", json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert count(api.engine, "episode") == 1
    other = api.post("/contacts", "integration", json={**body, "client_group": "unknown"})
    assert_error(other, 409, "conflict", "cw-77")
    by_header = api.post("/contacts", "integration", headers={"Idempotency-Key": "cw-77"},
                         json={k: v for k, v in body.items() if k != "idempotency_key"})
    assert by_header.json()["id"] == first.json()["id"]
    assert count(api.engine, "episode") == 1


def test_event_idempotency_and_a_reused_key(api):
    ep = api.contact()
    one = api.post(f"/episodes/{ep['id']}/events", "integration", json={"trigger": "refer", "idempotency_key": "k1"})
    two = api.post(f"/episodes/{ep['id']}/events", "integration", json={"trigger": "refer", "idempotency_key": "k1"})
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    assert len(api.get(f"/episodes/{ep['id']}/events", "integration").json()) == 2
    clash = api.post(f"/episodes/{ep['id']}/events", "integration",
                     json={"trigger": "close", "outcome": "signposted", "idempotency_key": "k1"})
    assert_error(clash, 409, "conflict")


def test_reading_an_episode_by_role(api):
    ep = api.contact()
    for who in ("integration", "manager", "manager_south", "admin", "amira", "ben"):
        r = api.get(f"/episodes/{ep['id']}", who)
        assert r.status_code == 200, (who, r.text)
        assert r.json()["id"] == ep["id"]
    # Another team's episode is not there to a duty worker: the same answer as a missing one.
    other, missing = api.get(f"/episodes/{ep['id']}", "cara"), api.get("/episodes/999", "cara")
    assert_error(other, 404, "not_found")
    assert other.json() == {**missing.json(), "detail": f"no episode {ep['id']}", "episode_id": ep["id"]}
    assert_error(api.get(f"/episodes/{ep['id']}/events", "cara"), 404, "not_found")
    assert_error(api.get("/episodes/999999", "integration"), 404, "not_found")


def test_moves_by_role_and_team(api):
    ep = api.contact()
    assert_error(api.post(f"/episodes/{ep['id']}/events", "cara", json={"trigger": "refer"}), 404, "not_found")
    assert_error(api.post(f"/episodes/{ep['id']}/events", "manager_south", json={"trigger": "refer"}),
                 403, "forbidden")
    assert_error(api.post(f"/episodes/{ep['id']}/events", "admin", json={"trigger": "refer"}), 403, "forbidden")
    assert api.fire(ep["id"], "refer", as_="ben")["stage"] == "c1_waiting"
    # A duty worker acts only as themself.
    r = api.post(f"/episodes/{ep['id']}/events", "ben", json={"trigger": "allocate", "worker": "amira"})
    assert_error(r, 403, "forbidden", "themself")
    took = api.fire(ep["id"], "allocate", as_="ben")
    assert (took["stage"], took["worker"]) == ("c1_active", "ben")
    # A manager allocates to anyone in the team.
    ep2 = api.waiting("LAS-2")
    assert api.fire(ep2["id"], "allocate", as_="manager", worker="amira")["worker"] == "amira"
    events = api.get(f"/episodes/{ep['id']}/events", "manager").json()
    assert [(e["trigger"], e["actor"], e["allocation"]) for e in events] == [
        ("record_contact", api.actors["integration"], None), ("refer", api.actors["ben"], None),
        ("allocate", api.actors["ben"], "manager")]


def test_impossible_move_is_409_with_stage_and_allowed_and_writes_nothing(api):
    ep = api.contact()
    before = count(api.engine, "event")
    r = api.post(f"/episodes/{ep['id']}/events", "integration", json={"trigger": "allocate", "worker": "amira"})
    body = assert_error(r, 409, "invalid_transition", "contact")
    assert body["stage"] == "contact"
    assert set(body["allowed"]) >= {"refer", "resolve"}
    assert count(api.engine, "event") == before
    assert api.get(f"/episodes/{ep['id']}", "integration").json()["stage"] == "contact"


BAD_CONTACTS = [
    ('{"person_ref": "LAS-1", "client_group": ', "body: the body is not valid JSON"),
    ('[1, 2]', "body"),
    ('{"person_ref": 5, "client_group": "unknown", "team": "north"}', "person_ref"),
    ('{"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "name": "Jo Bloggs"}', "name: unknown field"),
    ('{"person_ref": "LAS-1", "client_group": "unknown"}', "team: required"),
    ('{"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "occurred_at": "31/02/2026"}',
     "occurred_at"),
    ('{"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "occurred_at": "2099-01-01"}', "future"),
    ('{"person_ref": "LAS-1", "client_group": "aliens", "team": "north"}', "client groups are"),
    ('{"person_ref": "Jo Bloggs", "client_group": "unknown", "team": "north"}', "never a name"),
    ('{"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "priority": "urgent"}', "priorities are"),
    ('{"person_ref": "LAS-1\\u0000", "client_group": "unknown", "team": "north"}', "NUL"),
]


def test_bad_contacts_are_422_with_a_clear_body_and_write_nothing(api, subtests):
    for content, words in BAD_CONTACTS:
        with subtests.test(content=content):
            r = api.post("/contacts", "integration", content=content, headers={"Content-Type": "application/json"})
            assert_error(r, 422, "validation_error", words)
    assert count(api.engine, "episode") == 0


def test_unknown_team_on_a_contact_is_404(api):
    r = api.post("/contacts", "integration", json={"person_ref": "LAS-1", "client_group": "unknown", "team": "east"})
    assert_error(r, 404, "not_found", "east")


BAD_EVENTS = [
    ({"trigger": "teleport"}, "triggers are"),
    ({"trigger": "refer", "worker": "amira"}, "only with allocate"),
    ({"trigger": "refer", "occurred_at": "yesterday"}, "ISO 8601"),
    ({"trigger": "refer", "colour": "red"}, "colour: unknown field"),
    ({"trigger": 7}, "trigger"),
    ({"trigger": "close", "outcome": "happy"}, "outcomes are"),
]


def test_bad_events_are_refused_and_write_nothing(api, subtests):
    ep = api.contact()
    before = count(api.engine, "event")
    for body, words in BAD_EVENTS:
        with subtests.test(body=body):
            assert_error(api.post(f"/episodes/{ep['id']}/events", "integration", json=body), 422,
                         "validation_error", words)
    assert count(api.engine, "event") == before
    for path in ("/episodes/abc", "/episodes/0", "/episodes/99999999999999999999"):
        with subtests.test(path=path):
            assert_error(api.get(path, "integration"), 422, "validation_error", "episode_id")


def test_openapi_has_no_internal_fields(api):
    spec = api.get("/openapi.json").json()
    fields = {name for schema in spec["components"]["schemas"].values() for name in schema.get("properties", {})}
    assert not fields & {"token_hash", "request_hash", "version"}
    assert "token" in spec["components"]["schemas"]["TokenCreated"]["properties"]
    assert spec["components"]["securitySchemes"]



def test_unknown_paths_and_methods_have_the_same_error_body(api):
    assert_error(api.get("/nowhere", "integration"), 404, "not_found", "/nowhere")
    assert_error(api.delete("/contacts", "integration"), 405, "method_not_allowed")
    r = api.post("/contacts", "integration", content="person_ref=LAS-1", headers={"Content-Type": "text/plain"})
    assert_error(r, 422, "validation_error")
    assert count(api.engine, "episode") == 0
