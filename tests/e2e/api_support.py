"""Shared by the HTTP tests: a council with a token per role, a client, and a real uvicorn server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from pathway.api import create_app
from pathway.services.auth import Actor, create_token

ROLES = {
    "admin": dict(role="admin", name="ops"),
    "integration": dict(role="integration", name="caseworks"),
    "manager": dict(role="manager", team="north", name="nadia"),
    "manager_south": dict(role="manager", team="south", name="sam"),
    "amira": dict(role="duty", worker="amira"),
    "ben": dict(role="duty", worker="ben"),
    "cara": dict(role="duty", worker="cara"),
}


class Api:
    """A client that speaks as one of the council's tokens: ``api.post("/contacts", as_="integration", json=…)``."""

    def __init__(self, engine, client):
        self.engine = engine
        self.client = client
        made = {who: create_token(engine, actor="test", **kw) for who, kw in ROLES.items()}
        self.tokens = {who: token for who, (token, _) in made.items()}
        # What the log records as each one's actor (the label names the token: duty:amira#3).
        self.actors = {who: Actor(row["role"], row["name"], row["worker"], row["team"], row["id"]).label
                       for who, (_, row) in made.items()}

    def request(self, method: str, path: str, as_: str | None = None, headers: dict | None = None, **kw):
        headers = dict(headers or {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path, as_=None, **kw):
        return self.request("GET", path, as_, **kw)

    def post(self, path, as_=None, **kw):
        return self.request("POST", path, as_, **kw)

    def delete(self, path, as_=None, **kw):
        return self.request("DELETE", path, as_, **kw)

    def contact(self, person_ref="LAS-1", client_group="learning_disability", team="north", as_="integration",
                **extra) -> dict:
        r = self.post("/contacts", as_, json={"person_ref": person_ref, "client_group": client_group,
                                              "team": team, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def fire(self, episode_id: int, trigger: str, as_="integration", **extra) -> dict:
        r = self.post(f"/episodes/{episode_id}/events", as_, json={"trigger": trigger, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    def waiting(self, person_ref="LAS-1", team="north", **extra) -> dict:
        """A person referred on to conversation 1's queue."""
        ep = self.contact(person_ref=person_ref, team=team, **extra)
        return self.fire(ep["id"], "refer")


def count(engine, table: str) -> int:
    with engine.transaction(write=False) as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    for word in words:
        assert word in body["detail"], body
    return body


def make_api(engine) -> Api:
    return Api(engine, TestClient(create_app(engine)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(engine):
    """The API on a real uvicorn server in a thread, on a free local port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, server_header=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def huddle_council(engine, clock) -> dict:
    """Team north on 20 May 2026 at noon: five people waiting, one in crisis, two over target.

    ============  ====================  ==========  ============  =============================
    person        client group          stage       days waiting  why it matters
    ============  ====================  ==========  ============  =============================
    LAS-101       mental_health         c1_waiting  19            over the 11-day target
    LAS-102       mental_health         c1_waiting  10
    LAS-103       learning_disability   c1_waiting  10
    LAS-104       learning_disability   c2_waiting  5             crisis (over the 1-day target)
    LAS-105       physical_support      c1_waiting  2
    LAS-201       unknown (team south)  c1_waiting  2             another team: never shown
    ============  ====================  ==========  ============  =============================
    """
    ids = {}

    def waiting(ref, group, team="north"):
        ep = engine.record_contact(ref, group, team)
        ids[ref] = engine.fire(ep.id, "refer").id

    clock.set("2026-05-01T09:00:00+00:00")
    waiting("LAS-101", "mental_health")
    clock.set("2026-05-10T09:00:00+00:00")
    waiting("LAS-102", "mental_health")
    waiting("LAS-103", "learning_disability")
    clock.set("2026-05-15T09:00:00+00:00")
    ep = engine.record_contact("LAS-104", "learning_disability", "north")
    ids["LAS-104"] = engine.fire(ep.id, "crisis").id
    clock.set("2026-05-18T09:00:00+00:00")
    waiting("LAS-105", "physical_support")
    waiting("LAS-201", "unknown", team="south")
    clock.set("2026-05-20T12:00:00+00:00")
    return ids
