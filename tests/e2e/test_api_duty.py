"""The duty desk over HTTP: queues, claiming the next person and a named one, caps, retries."""

from __future__ import annotations

import pytest
from api_support import assert_error, count, make_api

from pathway.domain.checks import request_hash
from pathway.store.tables import REQUEST


@pytest.fixture
def api(council):
    return make_api(council)


def test_queue_in_claim_order_for_the_team_only(api, clock):
    first = api.waiting("LAS-1")
    clock.advance(hours=1)
    second = api.waiting("LAS-2")
    clock.advance(hours=1)
    crisis = api.waiting("LAS-3", priority="crisis")
    for who in ("amira", "manager"):
        r = api.get("/teams/north/queue", who)
        assert r.status_code == 200
        assert [e["id"] for e in r.json()] == [crisis["id"], first["id"], second["id"]]
        assert "version" not in r.json()[0]
    assert_error(api.get("/teams/north/queue", "cara"), 403, "forbidden")
    assert_error(api.get("/teams/north/queue", "manager_south"), 403, "forbidden")
    assert_error(api.get("/teams/north/queue", "integration"), 403, "forbidden")
    assert_error(api.get("/teams/North!/queue", "amira"), 422, "validation_error", "team")


def test_claim_next_takes_the_first_for_the_caller_then_404(api):
    ep = api.waiting("LAS-1")
    r = api.post("/teams/north/queue/claim", "amira")
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["worker"], r.json()["stage"]) == (ep["id"], "amira", "c1_active")
    events = api.get(f"/episodes/{ep['id']}/events", "amira").json()
    assert (events[-1]["actor"], events[-1]["allocation"]) == (api.actors["amira"], "self")
    assert_error(api.post("/teams/north/queue/claim", "amira"), 404, "not_found", "nothing waiting")


def test_only_a_duty_worker_of_the_team_claims(api, subtests):
    api.waiting("LAS-1")
    for who, team in (("manager", "north"), ("integration", "north"), ("admin", "north"), ("cara", "north"),
                      ("amira", "south")):
        with subtests.test(who=who, team=team):
            assert_error(api.post(f"/teams/{team}/queue/claim", who), 403, "forbidden")
    assert api.get("/teams/north/queue", "manager").json()[0]["stage"] == "c1_waiting"


def test_a_retried_claim_returns_the_first_and_takes_no_second(api):
    one, two = api.waiting("LAS-1"), api.waiting("LAS-2")
    a = api.post("/teams/north/queue/claim", "amira", headers={"Idempotency-Key": "tap-1"})
    b = api.post("/teams/north/queue/claim", "amira", headers={"Idempotency-Key": "tap-1"})
    assert a.status_code == b.status_code == 200 and a.json() == b.json() and a.json()["id"] == one["id"]
    assert api.get(f"/episodes/{two['id']}", "amira").json()["stage"] == "c1_waiting"
    clash = api.post(f"/episodes/{two['id']}/claim", "amira", headers={"Idempotency-Key": "tap-1"})
    assert_error(clash, 409, "conflict", "tap-1")
    # A failed request does not keep its key.
    assert api.post(f"/episodes/{two['id']}/claim", "amira", headers={"Idempotency-Key": "tap-2"}).status_code == 200
    assert_error(api.post("/teams/north/queue/claim", "amira", headers={"Idempotency-Key": "tap-3"}), 404,
                 "not_found")
    assert count(api.engine, "api_request") == 2


def test_claim_a_named_episode_and_a_second_claimer_gets_409(api):
    ep = api.waiting("LAS-1")
    r = api.post(f"/episodes/{ep['id']}/claim", "ben")
    assert (r.status_code, r.json()["worker"]) == (200, "ben")
    assert_error(api.post(f"/episodes/{ep['id']}/claim", "amira"), 409, "conflict")
    assert_error(api.post(f"/episodes/{ep['id']}/claim", "manager"), 403, "forbidden")
    south = api.waiting("LAS-9", team="south")
    assert_error(api.post(f"/episodes/{south['id']}/claim", "amira"), 404, "not_found")
    assert_error(api.post("/episodes/424242/claim", "amira"), 404, "not_found")


def test_a_full_caseload_is_409(api):
    for i in range(4):
        api.waiting(f"LAS-{i}")
    for _ in range(3):  # amira's cap is 3
        assert api.post("/teams/north/queue/claim", "amira").status_code == 200
    body = assert_error(api.post("/teams/north/queue/claim", "amira"), 409, "caseload_full")
    assert body["cap"] == 3


def test_a_key_still_running_is_409_and_an_abandoned_one_runs_again(api, clock):
    api.waiting("LAS-1")
    with api.engine.transaction() as conn:
        conn.execute(REQUEST.insert().values(actor=api.actors["amira"], idempotency_key="tap-9",
                                             request_hash=request_hash({"what": "claim next north"}), status=0,
                                             response=None, created_at=clock()))
    running = api.post("/teams/north/queue/claim", "amira", headers={"Idempotency-Key": "tap-9"})
    assert_error(running, 409, "conflict", "still running")
    clock.advance(minutes=10)
    again = api.post("/teams/north/queue/claim", "amira", headers={"Idempotency-Key": "tap-9"})
    assert (again.status_code, again.json()["person_ref"]) == (200, "LAS-1")
