"""Moves over HTTP: every argument of a move (keep_worker, to), and optimistic concurrency by ETag and If-Match."""

from __future__ import annotations

import pytest
from api_support import assert_error, count, make_api


@pytest.fixture
def api(council):
    return make_api(council)


def events_of(api, episode_id: int) -> list[dict]:
    return api.get(f"/episodes/{episode_id}/events", "integration").json()


def move(api, episode_id: int, if_match: str | None = None, **body):
    headers = {} if if_match is None else {"If-Match": if_match}
    return api.post(f"/episodes/{episode_id}/events", "integration", json=body, headers=headers)


def test_an_episode_carries_its_version_as_its_etag_and_not_in_its_body(api):
    ep = api.contact()
    r = api.get(f"/episodes/{ep['id']}", "integration")
    assert r.headers["etag"] == '"1"'
    assert "version" not in r.json()
    moved = move(api, ep["id"], trigger="refer")
    assert moved.headers["etag"] == '"2"'
    assert api.get(f"/episodes/{ep['id']}", "integration").headers["etag"] == '"2"'


def test_a_move_from_the_current_etag_is_applied(api):
    ep = api.contact()
    etag = api.get(f"/episodes/{ep['id']}", "integration").headers["etag"]
    r = move(api, ep["id"], if_match=etag, trigger="refer")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "c1_waiting"
    weak = move(api, ep["id"], if_match=f"W/{r.headers['etag']}", trigger="allocate", worker="ben")
    assert weak.status_code == 200, weak.text
    assert weak.json()["worker"] == "ben"
    anything = move(api, ep["id"], if_match="*", trigger="release")
    assert anything.status_code == 200, anything.text


def test_a_move_from_a_stale_etag_is_412_and_writes_nothing(api):
    ep = api.contact()
    etag = api.get(f"/episodes/{ep['id']}", "integration").headers["etag"]
    api.fire(ep["id"], "refer")  # someone else moves it first
    log = events_of(api, ep["id"])
    outbox = count(api.engine, "outbox")
    r = move(api, ep["id"], if_match=etag, trigger="close", outcome="declined")
    body = assert_error(r, 412, "stale_version", "version 2", "expected 1")
    assert set(body) >= {"error", "detail"}
    assert events_of(api, ep["id"]) == log
    assert count(api.engine, "outbox") == outbox
    assert api.get(f"/episodes/{ep['id']}", "integration").json()["stage"] == "c1_waiting"


def test_a_retry_of_a_keyed_move_gets_its_first_reply_even_after_the_version_moved_on(api):
    ep = api.contact()
    first = move(api, ep["id"], if_match='"1"', trigger="refer", idempotency_key="m-1")
    again = move(api, ep["id"], if_match='"1"', trigger="refer", idempotency_key="m-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(events_of(api, ep["id"])) == 2


@pytest.mark.parametrize("header", ['3', 'abc', '"x"', '"1", "2"', 'W/3', '"-1"', '"99999999999"'])
def test_a_malformed_if_match_is_422_naming_the_form(api, header):
    ep = api.contact()
    r = move(api, ep["id"], if_match=header, trigger="refer")
    body = assert_error(r, 422, "validation_error", "If-Match", '"3"')
    assert body["field"] == "If-Match"
    assert len(events_of(api, ep["id"])) == 1


def test_crisis_with_and_without_keeping_the_worker(api):
    kept = api.waiting("LAS-1")
    api.fire(kept["id"], "allocate", worker="ben")
    r = move(api, kept["id"], trigger="crisis", keep_worker=True)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["worker"]) == ("c2_active", "ben")
    assert events_of(api, kept["id"])[-1]["to_stage"] == "c2_active"

    queued = api.waiting("LAS-2")
    api.fire(queued["id"], "allocate", worker="ben")
    r = move(api, queued["id"], trigger="crisis")
    assert (r.json()["stage"], r.json()["worker"]) == ("c2_waiting", None)


@pytest.mark.parametrize(("to", "stage"), [("c3", "c3_waiting"), ("c1", "c1_active"), (None, "c1_active")])
def test_stabilise_goes_where_to_says(api, to, stage):
    ep = api.contact()
    api.fire(ep["id"], "crisis")
    api.fire(ep["id"], "allocate", worker="ben")
    body = {"trigger": "stabilise"} | ({"to": to} if to else {})
    r = move(api, ep["id"], **body)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == stage


def test_stabilise_to_anywhere_else_is_422(api):
    ep = api.contact()
    api.fire(ep["id"], "crisis")
    api.fire(ep["id"], "allocate", worker="ben")
    before = len(events_of(api, ep["id"]))
    assert_error(move(api, ep["id"], trigger="stabilise", to="c9"), 422, "validation_error", "'c1' or 'c3'")
    assert_error(move(api, ep["id"], trigger="stabilise", to="c33"), 422, "validation_error", "to")
    assert_error(move(api, ep["id"], trigger="crisis", keep_worker="perhaps"), 422, "validation_error",
                 "keep_worker")
    assert len(events_of(api, ep["id"])) == before


def test_the_openapi_documents_keep_worker_to_if_match_etag_and_412(api):
    spec = api.get("/openapi.json").json()
    props = spec["components"]["schemas"]["EventCreate"]["properties"]
    assert {"keep_worker", "to"} <= set(props)
    assert "expected_version" not in props
    post = spec["paths"]["/episodes/{episode_id}/events"]["post"]
    assert "If-Match" in {p["name"] for p in post["parameters"] if p["in"] == "header"}
    assert "412" in post["responses"]
    assert "ETag" in post["responses"]["200"]["headers"]
    assert "ETag" in spec["paths"]["/episodes/{episode_id}"]["get"]["responses"]["200"]["headers"]
