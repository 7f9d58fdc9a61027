"""Every route of the OpenAPI document against every role: a route without a rule here fails, so a new
route cannot ship without saying who may call it. A refused call is 403 (404 where the record is another
team's and so not there to the caller), writes nothing, and never 401 for a valid token."""

from __future__ import annotations

import itertools

import pytest
from api_support import count, make_api
from test_api_imports import GOOD, as_csv

ROLES = ("admin", "integration", "manager", "manager_south", "amira", "cara")
WRITTEN = ("episode", "event", "team", "worker", "api_token", "webhook", "api_request")
ANY, NOT_THERE = "any", "not there"

# (method, path): who may call it, and what a caller of another team gets instead of 403.
RULES: dict[tuple[str, str], dict] = {
    ("GET", "/health"): {"allowed": ANY},
    ("POST", "/imports"): {"allowed": {"admin", "integration"}},
    ("POST", "/contacts"): {"allowed": {"integration", "manager", "amira"}},
    ("GET", "/episodes/{episode_id}"): {"allowed": {"admin", "integration", "manager", "manager_south", "amira"},
                                        NOT_THERE: {"cara"}},
    ("GET", "/episodes/{episode_id}/events"): {"allowed": {"admin", "integration", "manager", "manager_south",
                                                           "amira"}, NOT_THERE: {"cara"}},
    ("POST", "/episodes/{episode_id}/events"): {"allowed": {"integration", "manager", "amira"}, NOT_THERE: {"cara"}},
    ("GET", "/teams/{team}/queue"): {"allowed": {"manager", "amira"}},
    ("POST", "/teams/{team}/queue/claim"): {"allowed": {"amira"}},
    ("POST", "/episodes/{episode_id}/claim"): {"allowed": {"amira"}, NOT_THERE: {"cara"}},
    **{("GET", f"/reports/{name}"): {"allowed": {"integration", "manager", "manager_south"}}
       for name in ("waits", "allocation", "caseloads", "outcomes", "trends", "forecast")},
    ("POST", "/teams"): {"allowed": {"admin"}},
    ("GET", "/teams"): {"allowed": set(ROLES)},
    ("POST", "/workers"): {"allowed": {"admin", "manager"}},
    ("GET", "/workers"): {"allowed": set(ROLES)},  # a manager's or duty worker's own team by default
    ("POST", "/tokens"): {"allowed": {"admin"}},
    ("GET", "/tokens"): {"allowed": {"admin"}},
    ("DELETE", "/tokens/{token_id}"): {"allowed": {"admin"}},
    ("POST", "/webhooks"): {"allowed": {"admin", "integration"}},
    ("GET", "/huddle/{team}"): {"allowed": {"manager", "amira"}, "page": True},
    ("GET", "/huddle/{team}/data"): {"allowed": {"manager", "amira"}},
    # the board's sign-in and sign-out forms: the token in the form decides, not the caller's
    ("POST", "/huddle/{team}/session"): {"allowed": ANY},
    ("POST", "/huddle/{team}/logout"): {"allowed": ANY},
    ("GET", "/audit/access"): {"allowed": {"admin"}},
}

_n = itertools.count()


def _call(api, method: str, path: str, who: str):
    """One call of the route as ``who``, with a request that is well formed for it."""
    n = next(_n)
    spare = api.post("/tokens", "admin", json={"role": "integration", "name": f"spare{n}"}).json()["id"]
    url = path.format(episode_id=api.north_episode, team="north", token_id=spare)
    bodies = {
        "/imports": {"content": as_csv(GOOD), "headers": {"Content-Type": "text/csv"}},
        "/contacts": {"json": {"person_ref": f"LAS-{n}", "client_group": "unknown", "team": "north"}},
        "/episodes/{episode_id}/events": {"json": {"trigger": "refer"}},
        "/teams": {"json": {"key": f"t{n}", "name": "T"}},
        "/workers": {"json": {"key": f"w{n}", "name": "W", "team": "north"}},
        "/tokens": {"json": {"role": "integration", "name": f"made{n}"}},
        "/webhooks": {"json": {"url": "https://example.org/hook", "events": ["episode.refer"],
                               "secret": "s" * 32}},
    }
    extra = bodies.get(path, {}) if method == "POST" else {}
    return api.request(method, url, who, follow_redirects=False, **extra)


@pytest.fixture
def api(council):
    api = make_api(council)
    api.north_episode = api.contact(person_ref="LAS-900")["id"]
    return api


def test_every_route_has_a_rule_and_every_role_gets_what_it_says(api, subtests):
    spec = api.client.get("/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert sorted(set(routes) - set(RULES)) == [], "a route without a rule in RULES: say who may call it"
    for (method, path), rule in RULES.items():
        assert (method, path) in routes, f"{method} {path} has a rule but no route"
        for who in ROLES:
            with subtests.test(route=f"{method} {path}", who=who):
                allowed = rule["allowed"] == ANY or who in rule["allowed"]
                before = {t: count(api.engine, t) for t in WRITTEN if t != "api_token"}
                r = _call(api, method, path, who)
                assert r.status_code < 500, r.text
                if allowed:
                    assert r.status_code not in (401, 403), r.text
                    continue
                expected = 404 if who in rule.get(NOT_THERE, ()) else 403
                assert r.status_code == expected, r.text
                if not rule.get("page"):
                    assert r.json()["error"] == ("not_found" if expected == 404 else "forbidden")
                assert {t: count(api.engine, t) for t in before} == before  # a refused call writes nothing
