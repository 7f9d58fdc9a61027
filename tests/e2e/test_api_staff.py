"""GET /teams and GET /workers: who may list them, and a worker's caseload against their cap."""

from __future__ import annotations

import pytest
from api_support import assert_error, make_api


@pytest.fixture
def api(council):
    return make_api(council)


def test_every_role_lists_the_teams(api):
    for who in ("admin", "integration", "manager", "amira"):
        r = api.get("/teams", who)
        assert r.status_code == 200, r.text
        assert [(t["key"], t["name"], t["created_by"]) for t in r.json()] == [("north", "North", "test"),
                                                                               ("south", "South", "test")]
    assert_error(api.get("/teams"), 401, "unauthorized")


def test_workers_carry_their_caseload_against_their_cap(api):
    waiting = api.waiting("LAS-1")
    api.fire(waiting["id"], "allocate", worker="amira")  # amira: cap 3, one held
    r = api.get("/workers", "admin")
    assert r.status_code == 200, r.text
    shown = {w["key"]: (w["team"], w["active"], w["caseload"], w["cap"], w["free"], w["over_cap"], w["caseload_cap"])
             for w in r.json()}
    assert shown == {"amira": ("north", True, 1, 3, 2, False, 3), "ben": ("north", True, 0, 35, 35, False, None),
                     "cara": ("south", True, 0, 35, 35, False, None)}
    assert [w["key"] for w in api.get("/workers?team=south", "integration").json()] == ["cara"]


def test_a_manager_or_duty_worker_lists_only_their_own_team(api):
    assert [w["key"] for w in api.get("/workers", "manager").json()] == ["amira", "ben"]
    assert [w["key"] for w in api.get("/workers", "amira").json()] == ["amira", "ben"]
    assert_error(api.get("/workers?team=south", "manager"), 403, "forbidden", "team 'north'", "team 'south'")
    assert_error(api.get("/workers?team=nort", "admin"), 404, "not_found",
                 "unknown team 'nort'; teams are: north, south")
    assert_error(api.get("/workers?team=North Team", "admin"), 422, "validation_error", "team")
