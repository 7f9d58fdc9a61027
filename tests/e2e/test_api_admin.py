"""Teams, workers, tokens and webhooks over HTTP: who may make them, idempotent retries, what is never shown."""

from __future__ import annotations

import pytest
from api_support import assert_error, count, make_api


@pytest.fixture
def api(council):
    return make_api(council)


def test_admin_creates_a_team_and_a_retry_returns_the_first_reply(api):
    body = {"key": "east", "name": "East", "idempotency_key": "t-east"}
    first = api.post("/teams", "admin", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["created_by"] == api.actors["admin"]
    again = api.post("/teams", "admin", json=body)
    assert (again.status_code, again.json()) == (201, first.json())
    assert_error(api.post("/teams", "admin", json={**body, "name": "Eastern"}), 409, "conflict", "t-east")
    assert_error(api.post("/teams", "admin", json={"key": "east", "name": "East"}), 409, "conflict", "already exists")


def test_only_an_admin_creates_teams_and_bad_teams_are_422(api, subtests):
    for who in ("manager", "integration", "amira"):
        with subtests.test(who=who):
            assert_error(api.post("/teams", who, json={"key": "east", "name": "East"}), 403, "forbidden", "admin")
    for body, words in (({"key": "East Team", "name": "East"}, "lower-case"), ({"key": "east"}, "name: required"),
                        ({"key": "east", "name": ""}, "name"),
                        ({"key": "east", "name": "East", "colour": "blue"}, "colour: unknown field")):
        with subtests.test(body=body):
            assert_error(api.post("/teams", "admin", json=body), 422, "validation_error", words)
    assert count(api.engine, "team") == 2


def test_workers_by_admin_or_the_teams_manager(api):
    r = api.post("/workers", "manager", json={"key": "dev", "name": "Dev", "team": "north", "caseload_cap": 20})
    assert r.status_code == 201, r.text
    assert (r.json()["team"], r.json()["created_by"]) == ("north", api.actors["manager"])
    assert_error(api.post("/workers", "manager", json={"key": "eve", "name": "Eve", "team": "south"}),
                 403, "forbidden", "south")
    assert_error(api.post("/workers", "amira", json={"key": "eve", "name": "Eve", "team": "north"}), 403, "forbidden")
    assert api.post("/workers", "admin", json={"key": "eve", "name": "Eve", "team": "south"}).status_code == 201
    assert_error(api.post("/workers", "admin", json={"key": "fay", "name": "Fay", "team": "north",
                                                     "caseload_cap": 0}), 422, "validation_error", "caseload_cap")
    assert_error(api.post("/workers", "admin", json={"key": "fay", "name": "Fay", "team": "north",
                                                     "caseload_cap": "lots"}), 422, "validation_error", "caseload_cap")
    assert_error(api.post("/workers", "admin", json={"key": "fay", "name": "Fay", "team": "west"}), 404, "not_found")


def test_tokens_are_shown_once_and_stored_hashed(api):
    r = api.post("/tokens", "admin", json={"role": "duty", "worker": "ben", "name": "ben-laptop"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["token"].startswith("pw_") and (made["role"], made["team"]) == ("duty", "north")
    listed = api.get("/tokens", "admin").json()
    assert all("token" not in t and "token_hash" not in t for t in listed)
    with api.engine.transaction(write=False) as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM api_token")]
    assert made["token"] not in stored and len(stored) == len(listed)
    # The new token works, as its worker.
    ep = api.post("/contacts", headers={"Authorization": f"Bearer {made['token']}"},
                  json={"person_ref": "LAS-9", "client_group": "unknown", "team": "north"})
    assert ep.status_code == 201
    # Revoked: refused at once.
    assert api.delete(f"/tokens/{made['id']}", "admin").json()["revoked_at"] is not None
    gone = api.get(f"/episodes/{ep.json()['id']}", headers={"Authorization": f"Bearer {made['token']}"})
    assert_error(gone, 401, "unauthorized", "revoked")


BAD_TOKENS = [
    ({"role": "boss"}, 422, "roles are"),
    ({"role": "duty"}, 422, "worker"),
    ({"role": "manager"}, 422, "team"),
    ({"role": "manager", "team": "west"}, 404, "west"),
    ({"role": "integration", "team": "north"}, 422, "not bound"),
    ({"role": "duty", "worker": "amira", "team": "south"}, 422, "north"),
]


def test_bad_tokens_are_refused_and_only_an_admin_handles_tokens(api, subtests):
    before = count(api.engine, "api_token")
    for body, status, words in BAD_TOKENS:
        with subtests.test(body=body):
            r = api.post("/tokens", "admin", json=body)
            assert r.status_code == status, r.text
            assert words in r.json()["detail"]
    for who in ("manager", "integration", "amira"):
        with subtests.test(who=who):
            assert_error(api.post("/tokens", who, json={"role": "admin"}), 403, "forbidden")
            assert_error(api.get("/tokens", who), 403, "forbidden")
            assert_error(api.delete("/tokens/1", who), 403, "forbidden")
    assert count(api.engine, "api_token") == before


def test_webhooks_by_admin_and_integration_never_show_the_secret(api):
    for who in ("admin", "integration"):
        body = {"url": f"https://backend.example/{who}", "events": ["episode.allocate"], "secret": "s" * 32}
        r = api.post("/webhooks", who, json=body)
        assert r.status_code == 201, r.text
        assert "secret" not in r.json() and r.json()["url"] == body["url"]


def test_webhooks_refused_for_others_and_bad_input(api):
    body = {"url": "https://backend.example/hooks", "events": ["episode.allocate"], "secret": "s" * 32}
    assert_error(api.post("/webhooks", "manager", json=body), 403, "forbidden")
    assert_error(api.post("/webhooks", "admin", json={**body, "secret": "short"}), 422, "validation_error", "secret")
    assert_error(api.post("/webhooks", "admin", json={**body, "events": ["party"]}), 422, "validation_error")
    assert_error(api.post("/webhooks", "admin", json={**body, "url": "not a url"}), 422, "validation_error")


def test_a_retried_token_request_never_shows_or_stores_the_token_again(api):
    body = {"role": "integration", "name": "crm", "idempotency_key": "tok-1"}
    made = api.post("/tokens", "admin", json=body)
    assert made.status_code == 201
    again = api.post("/tokens", "admin", json=body)
    assert_error(again, 409, "conflict", "shown only once")
    assert "pw_" not in again.text and again.json()["token_id"] == made.json()["id"]
    with api.engine.transaction(write=False) as conn:
        stored = " ".join(str(r[0]) for r in conn.exec_driver_sql("SELECT response FROM api_request"))
    assert made.json()["token"] not in stored
    assert count(api.engine, "api_token") == len(api.tokens) + 1
