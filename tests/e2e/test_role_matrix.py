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
       for name in ("waits", "allocation", "caseloads", "outcomes", "trends", "forecast", "progression",
                    "front-door", "three_conversations", "first_conversation", "conversations", "welfare_checks",
                    "audits", "pack")},
    ("GET", "/reports/supervision"): {"allowed": {"admin", "integration", "manager", "manager_south"}},
    ("GET", "/episodes"): {"allowed": {"integration", "manager", "manager_south", "amira", "cara"}},
    ("GET", "/workers/{worker}/tray"): {"allowed": {"integration", "manager", "amira"}},
    ("GET", "/teams/{team}/front-door"): {"allowed": {"integration", "manager", "amira"}},
    ("POST", "/episodes/{episode_id}/conversations"): {"allowed": {"integration", "manager", "amira"},
                                                       NOT_THERE: {"cara"}},
    ("PUT", "/episodes/{episode_id}/weight"): {"allowed": {"admin", "manager"}},
    **{(method, f"/workers/{{worker}}/{what}"): {"allowed": {"admin", "manager"}}
       for method, what in (("PATCH", "profile"), ("PUT", "skills"), ("POST", "absences"), ("POST", "release-all"),
                            ("POST", "supervisions"))},
    **{("GET", f"/workers/{{worker}}/{what}"): {"allowed": {"admin", "manager", "amira"}}
       for what in ("profile", "absences", "supervisions")},
    ("POST", "/audits/samples"): {"allowed": {"admin", "manager", "manager_south"}},  # a council-wide sample
    ("POST", "/audits"): {"allowed": {"manager"}},
    ("POST", "/outreach"): {"allowed": {"admin", "integration", "manager"}},  # a manager: their team's rows only
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
    # Webhooks and the event feed: for the systems that embed the engine.
    ("GET", "/events"): {"allowed": {"admin", "integration"}},
    ("GET", "/webhooks"): {"allowed": {"admin", "integration"}},
    ("GET", "/webhooks/{webhook_id}/deliveries"): {"allowed": {"admin", "integration"}},
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): {"allowed": {"admin", "integration"}},
    ("POST", "/webhooks/{webhook_id}/rotate"): {"allowed": {"admin", "integration"}},
}

_n = itertools.count()


def _call(api, method: str, path: str, who: str):
    """One call of the route as ``who``, with a request that is well formed for it."""
    n = next(_n)
    spare = api.post("/tokens", "admin", json={"role": "integration", "name": f"spare{n}"}).json()["id"]
    url = path.format(episode_id=api.north_episode, team="north", token_id=spare, worker="amira",
                      webhook_id=1, delivery_id=1)
    bodies = {
        "/imports": {"content": as_csv(GOOD), "headers": {"Content-Type": "text/csv"}},
        "/contacts": {"json": {"person_ref": f"LAS-{n}", "client_group": "unknown", "team": "north"}},
        "/episodes/{episode_id}/events": {"json": {"trigger": "refer"}},
        "/teams": {"json": {"key": f"t{n}", "name": "T"}},
        "/episodes/{episode_id}/conversations": {"json": {"status": "held", "mode": "phone", "minutes": 30}},
        "/audits/samples": {"json": {"from": "2026-01-01", "to": "2026-12-31", "rate": 1, "seed": n}},
        "/audits": {"json": {"episode_id": api.north_episode, "rating": "good", "reason": "spot check"}},
        "/outreach": {"content": f"person_ref,team,when,outcome\nLAS-{n}00,north,2026-05-10,spoken\n",
                      "headers": {"Content-Type": "text/csv"}},
        "/workers/{worker}/skills": {"json": {"skills": ["autism"]}},
        "/workers/{worker}/profile": {"json": {"fte": 0.8}},
        "/workers/{worker}/absences": {"json": {"start": "2026-07-01", "end": "2026-07-02", "reason": "leave"}},
        "/workers/{worker}/release-all": {"json": {"reason": "leave"}},
        "/workers/{worker}/supervisions": {"json": {"supervisor": "nadia", "on": "2026-05-01", "minutes": 120}},
        "/episodes/{episode_id}/weight": {"json": {"weight": 2, "reason": "complex"}},
        "/workers": {"json": {"key": f"w{n}", "name": "W", "team": "north"}},
        "/tokens": {"json": {"role": "integration", "name": f"made{n}"}},
        "/webhooks": {"json": {"url": "https://example.org/hook", "events": ["episode.refer"]}},
        "/webhooks/{webhook_id}/rotate": {"json": {"overlap": 60}},
    }
    extra = bodies.get(path, {}) if method in ("POST", "PUT", "PATCH") else {}
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
