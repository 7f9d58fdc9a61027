"""The huddle board over HTTP: signing in with a token, who may see it, the JSON it refreshes from, cookie writes."""

from __future__ import annotations

import pytest
from api_support import assert_error, huddle_council, live_server, make_api


@pytest.fixture
def api(council, clock):
    api = make_api(council)
    api.ids = huddle_council(council, clock)
    return api


def test_without_a_token_the_board_asks_for_one(api):
    r = api.get("/huddle/north")
    assert r.status_code == 401
    assert "text/html" in r.headers["content-type"] and '<form method="post"' in r.text and "LAS-" not in r.text


def test_first_visit_with_a_token_sets_a_cookie_and_drops_the_token_from_the_address(api):
    r = api.get("/huddle/north", params={"token": api.tokens["manager"]}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/huddle/north")
    cookie = r.headers["set-cookie"].lower()
    assert "pathway_board=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert api.tokens["manager"].lower() not in cookie  # the cookie holds the session's secret, not the token
    page = api.client.get("/huddle/north")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "Huddle: North" in page.text and "LAS-101" in page.text and "LAS-201" not in page.text
    assert "take-next" not in page.text  # a manager watches; duty workers take


def test_the_board_is_for_the_teams_manager_and_duty_workers(api, subtests):
    for who in ("cara", "manager_south", "integration", "admin"):
        with subtests.test(who=who):
            r = api.get("/huddle/north", params={"token": api.tokens[who]}, follow_redirects=False)
            # the refusal too is a redirect: the token does not stay in the address bar
            assert (r.status_code, r.headers["location"]) == (303, "/huddle/north?signin=forbidden")
            assert "set-cookie" not in r.headers
            page = api.client.get(r.headers["location"])
            assert page.status_code == 403 and "may not open this team" in page.text
            assert_error(api.get("/huddle/north/data", who), 403, "forbidden")


def test_a_wrong_token_is_401_and_another_team_403(api):
    r = api.get("/huddle/north", params={"token": "pw_wrong"}, follow_redirects=True)
    assert r.status_code == 401 and "unknown or revoked" in r.text
    assert str(r.url).endswith("/huddle/north?signin=unauthorized") and "pw_wrong" not in str(r.url)
    assert_error(api.get("/huddle/north/data", headers={"Authorization": "Bearer pw_wrong"}), 401, "unauthorized")
    assert_error(api.get("/huddle/west/data", "manager"), 403, "forbidden", "west")


def test_board_data_has_the_right_numbers(api):
    r = api.get("/huddle/north/data", "amira")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store", r.text
    d = r.json()
    assert (d["waiting_total"], d["crises_total"], d["over_threshold_total"]) == (5, 1, 2)
    cells = {(w["client_group"], w["stage"]): w["waiting"] for w in d["waits"] if w["waiting"]}
    assert cells == {("mental_health", "c1_waiting"): 2, ("learning_disability", "c1_waiting"): 1,
                     ("learning_disability", "c2_waiting"): 1, ("physical_support", "c1_waiting"): 1}
    assert [(p["person_ref"], p["days_waiting"], p["crisis"], p["breach"], p["next"]) for p in d["queue"]] == [
        ("LAS-104", 5, True, True, True), ("LAS-101", 19, False, True, False), ("LAS-102", 10, False, False, False),
        ("LAS-103", 10, False, False, False), ("LAS-105", 2, False, False, False)]
    assert d["viewer"] == {"role": "duty", "worker": "amira", "can_take_next": True}
    assert {c["worker"]: (c["caseload"], c["cap"]) for c in d["caseloads"]} == {"amira": (0, 3), "ben": (0, 35)}
    assert d["trend"][-1]["waiting"] == 5 and len(d["trend"]) == 8
    assert {f["stage"]: f["waiting"] for f in d["forecast"]} == {"c1_waiting": 4, "c2_waiting": 1, "c3_waiting": 0}


def test_a_cookie_write_needs_the_board_header(api):
    api.get("/huddle/north", params={"token": api.tokens["amira"]})
    assert_error(api.client.post("/teams/north/queue/claim"), 403, "forbidden", "X-Pathway-Board")
    r = api.client.post("/teams/north/queue/claim", headers={"X-Pathway-Board": "1"})
    assert (r.status_code, r.json()["person_ref"], r.json()["worker"]) == (200, "LAS-104", "amira")


def test_the_api_on_a_real_server(api):
    import httpx

    with live_server(api.engine) as base:
        auth = {"Authorization": f"Bearer {api.tokens['amira']}"}
        assert httpx.get(f"{base}/health").json()["database"] == "ok"
        r = httpx.post(f"{base}/teams/north/queue/claim", headers=auth)
        assert (r.status_code, r.json()["person_ref"]) == (200, "LAS-104")
        r = httpx.get(f"{base}/huddle/north/data", headers=auth)
        assert r.json()["waiting_total"] == 4
        assert httpx.get(f"{base}/openapi.json").status_code == 200


def test_the_sign_in_form_posts_the_token_and_lands_on_the_bare_address(api):
    form = api.client.get("/huddle/north")
    assert form.status_code == 401 and '<form method="post" action="/huddle/north/session">' in form.text
    r = api.client.post("/huddle/north/session", data={"token": api.tokens["amira"]}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/huddle/north")
    assert api.client.get("/huddle/north").status_code == 200
    bad = api.client.post("/huddle/south/session", data={"token": api.tokens["amira"]}, follow_redirects=True)
    assert bad.status_code == 403 and str(bad.url).endswith("/huddle/south?signin=forbidden")


def test_signing_out_ends_the_session_on_the_server(api):
    api.get("/huddle/north", params={"token": api.tokens["manager"]})
    secret = api.client.cookies["pathway_board"]
    assert api.client.get("/huddle/north/data").status_code == 200
    r = api.client.post("/huddle/north/logout", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/huddle/north?signin=signed_out")
    page = api.client.get(r.headers["location"])
    assert page.status_code == 401 and "You signed out" in page.text
    # the old cookie, replayed, opens nothing and says why
    stale = api.client.get("/huddle/north/data", cookies={"pathway_board": secret})
    assert_error(stale, 401, "session_ended", "signed out")


def test_an_expired_session_explains_itself(api, clock):
    api.get("/huddle/north", params={"token": api.tokens["manager"]})
    clock.advance(hours=12, minutes=1)
    page = api.client.get("/huddle/north")
    assert page.status_code == 401 and "session ended at" in page.text and "12 hours" in page.text
    assert "pathway_board" in page.headers["set-cookie"]  # the dead cookie is removed
    assert '<form method="post"' in page.text


def test_a_revoked_token_ends_its_sessions(api):
    api.get("/huddle/north", params={"token": api.tokens["manager"]})
    assert api.client.get("/huddle/north/data").status_code == 200
    listed = api.get("/tokens", "admin").json()
    token_id = next(t["id"] for t in listed if t["role"] == "manager" and t["team"] == "north")
    assert api.delete(f"/tokens/{token_id}", "admin").status_code == 200
    assert_error(api.client.get("/huddle/north/data"), 401, "session_ended", "revoked")
    assert "revoked" in api.client.get("/huddle/north").text


def test_an_expired_token_ends_its_sessions(api, clock):
    """A session dies with its token when the token expires, as when it is revoked, though the session's
    own 12 hours have not passed."""
    made = api.post("/tokens", "admin", json={"role": "manager", "team": "north", "name": "tv", "expires": "1h"})
    assert made.status_code == 201, made.text
    api.get("/huddle/north", params={"token": made.json()["token"]})
    assert api.client.get("/huddle/north/data").status_code == 200
    clock.advance(hours=1, minutes=1)
    assert_error(api.client.get("/huddle/north/data"), 401, "session_ended", "expired")
    # nor can the cookie write: the guard checks the session before the body
    r = api.client.post("/teams/north/queue/claim", headers={"X-Pathway-Board": "1"})
    assert_error(r, 401, "session_ended", "expired")
    page = api.client.get("/huddle/north")  # says why, and removes the dead cookie
    assert page.status_code == 401 and "expired" in page.text and '<form method="post"' in page.text


def test_the_sign_in_and_out_forms_refuse_posts_from_another_site(api):
    elsewhere = {"Sec-Fetch-Site": "cross-site"}
    r = api.client.post("/huddle/north/session", data={"token": api.tokens["manager"]}, headers=elsewhere,
                        follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers and "own pages" in r.text
    api.get("/huddle/north", params={"token": api.tokens["manager"]})
    r = api.client.post("/huddle/north/logout", headers=elsewhere, follow_redirects=False)
    assert r.status_code == 403
    assert api.client.get("/huddle/north/data").status_code == 200  # still signed in


def test_refused_sign_ins_on_the_board_form_are_limited_per_address(council, clock):
    """The sign-in form answers a bad token with a redirect, not a 401: it is counted all the same."""
    council.settings = council.settings.model_copy(update={"security": council.settings.security.model_copy(
        update={"auth_failures": 3})})
    api = make_api(council)
    huddle_council(council, clock)
    for _ in range(3):
        r = api.client.post("/huddle/north/session", data={"token": "pw_wrong"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("?signin=unauthorized")
    blocked = api.client.post("/huddle/north/session", data={"token": api.tokens["manager"]}, follow_redirects=False)
    assert_error(blocked, 429, "too_many_requests", "seconds")
    assert "pathway_board" not in blocked.cookies
