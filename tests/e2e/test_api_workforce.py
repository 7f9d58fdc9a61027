"""The workforce over HTTP: who may write and read it, skills refusing a claim, a manager's override
and a weight at allocation, absences and releasing a worker's people, supervision and its report."""

from __future__ import annotations

import pytest
from api_support import assert_error, count, make_api

from pathway.settings import Settings


@pytest.fixture
def settings():
    return Settings(_env_file=None, workforce={"require": [{"client_group": "learning_disability",
                                                            "skill": "learning_disability"}]})


@pytest.fixture
def api(council):
    council.create_worker(key="nadia", name="Nadia", team="north")
    council.workforce.update("nadia", role="manager")
    return make_api(council)


def test_managers_of_the_team_and_admins_write_skills_others_get_403(api):
    for who in ("amira", "integration", "manager_south"):
        assert_error(api.request("PUT", "/workers/ben/skills", who, json={"skills": ["autism"]}), 403, "forbidden")
    r = api.request("PUT", "/workers/ben/skills", "manager", json={"skills": ["autism", "learning_disability"]})
    assert r.status_code == 200, r.text
    assert r.json()["skills"] == ["autism", "learning_disability"]
    assert api.engine.workforce.log("ben")[-1]["actor"] == api.actors["manager"]
    assert_error(api.request("PUT", "/workers/ben/skills", "admin", json={"skills": ["juggling"]}), 422,
                 "validation_error", "unknown skill 'juggling'")
    assert_error(api.request("PUT", "/workers/nobody/skills", "admin", json={"skills": []}), 404, "not_found")
    # a worker reads their own record, not another's
    assert api.get("/workers/ben/profile", "ben").json()["skills"] == ["autism", "learning_disability"]
    assert_error(api.get("/workers/ben/profile", "amira"), 403, "forbidden")


def test_an_unskilled_claim_is_403_naming_the_skill_and_a_manager_may_override_with_a_reason(api):
    ep = api.waiting("LAS-9", client_group="learning_disability")
    assert [(e["id"], e["takers"]) for e in api.get("/teams/north/queue", "manager").json()] == [(ep["id"], 0)]
    assert "takers" not in api.get(f"/episodes/{ep['id']}", "manager").json()  # the queue's mark only
    body = assert_error(api.post(f"/episodes/{ep['id']}/claim", "ben"), 403, "forbidden", "learning_disability")
    assert body["skill"] == "learning_disability"
    assert api.post("/teams/north/queue/claim", "ben").status_code == 404  # nothing ben may take
    assert_error(api.post(f"/episodes/{ep['id']}/events", "ben",
                          json={"trigger": "allocate", "override": "I know them"}), 403, "forbidden", "manager")
    r = api.post(f"/episodes/{ep['id']}/events", "manager",
                 json={"trigger": "allocate", "worker": "ben", "override": "knows the family"})
    assert r.status_code == 200, r.text
    assert api.engine.history(ep["id"])[-1]["data"] == {"override": "knows the family"}


@pytest.mark.parametrize("settings", [Settings(_env_file=None, workforce={"weighting": True})], ids=["weighting"])
def test_a_manager_allocates_a_person_already_weighed_and_a_weight_past_the_cap_is_409(api):
    first, second = api.waiting("LAS-1"), api.waiting("LAS-2")
    url = f"/episodes/{first['id']}/events"
    weighed = {"trigger": "allocate", "worker": "amira", "weight": 2, "weight_reason": "court work"}

    def writes():
        return tuple(count(api.engine, table) for table in ("event", "episode_weight", "workforce_event"))

    before = writes()
    for who in ("amira", "integration"):  # a weight is a manager's, as a reweigh is
        assert_error(api.post(url, who, json=weighed), 403, "forbidden", "only a manager may weigh")
    assert_error(api.post(url, "manager", json={**weighed, "weight": 9}), 422, "validation_error",
                 "weight must be a number from 0.25 to 4")
    assert_error(api.post(url, "manager", json={**weighed, "weight_reason": None}), 422, "validation_error",
                 "weight_reason is required")
    assert_error(api.post(url, "manager", json={"trigger": "close", "outcome": "declined", "weight": 2,
                                                "weight_reason": "court work"}),
                 422, "validation_error", "weight is given only with allocate, not with close")
    assert writes() == before
    r = api.post(url, "manager", json=weighed)
    assert r.status_code == 200, r.text
    assert api.engine.history(first["id"])[-1]["data"] == {"weight": 2.0, "weight_reason": "court work"}
    [row] = [r for r in api.get("/reports/caseloads?team=north", "manager").json() if r["worker"] == "amira"]
    assert (row["caseload"], row["weight"], row["cap"]) == (1, 2.0, 3.0)
    # amira's cap is 3: a second person weighing 2 would take her to 4
    before = writes()
    assert_error(api.post(f"/episodes/{second['id']}/events", "manager", json=weighed), 409, "caseload_full",
                 "at weight 2")
    assert writes() == before


def test_absence_release_all_and_reallocation(api):
    ep = api.waiting("LAS-1", client_group="physical_support")
    api.post(f"/episodes/{ep['id']}/claim", "ben")
    before = count(api.engine, "absence")
    assert_error(api.post("/workers/ben/absences", "manager", json={"start": "2026-06-05", "end": "2026-06-01",
                                                                    "reason": "sickness"}),
                 422, "validation_error", "ends")
    assert_error(api.post("/workers/ben/absences", "ben", json={"start": "2026-06-01", "end": "2026-06-05",
                                                                "reason": "sickness"}), 403, "forbidden")
    assert count(api.engine, "absence") == before
    r = api.post("/workers/ben/absences", "manager", json={"start": "2026-06-01", "end": "2026-06-05",
                                                           "reason": "sickness"})
    assert r.status_code == 201, r.text
    assert_error(api.post("/teams/north/queue/claim", "ben"), 403, "forbidden", "away")
    r = api.post("/workers/ben/release-all", "manager", json={"reason": "sickness"})
    assert r.status_code == 200, r.text
    assert [(e["id"], e["stage"]) for e in r.json()] == [(ep["id"], "c1_waiting")]
    assert [a["reason"] for a in api.get("/workers/ben/absences", "ben").json()] == ["sickness"]
    assert api.post(f"/episodes/{ep['id']}/events", "manager",
                    json={"trigger": "allocate", "worker": "amira"}).json()["worker"] == "amira"
    caseloads = {r["worker"]: r for r in api.get("/reports/caseloads", "manager").json()}
    assert caseloads["ben"]["away"] == "sickness"


def test_supervision_is_recorded_by_managers_read_by_the_worker_and_reported(api):
    body = {"supervisor": "nadia", "on": "2026-05-20", "minutes": 120, "sampled": True}
    assert_error(api.post("/workers/ben/supervisions", "ben", json=body), 403, "forbidden")
    assert_error(api.post("/workers/ben/supervisions", "manager", json={**body, "minutes": 0}), 422,
                 "validation_error", "minutes")
    assert_error(api.post("/workers/ben/supervisions", "manager", json={**body, "supervisor": "amira"}), 422,
                 "validation_error", "not a manager")
    assert api.post("/workers/ben/supervisions", "manager", json=body).status_code == 201
    assert [s["minutes"] for s in api.get("/workers/ben/supervisions", "ben").json()] == [120]
    assert_error(api.get("/workers/ben/supervisions", "amira"), 403, "forbidden")
    api.request("PATCH", "/workers/ben/profile", "manager", json={"line_manager": "nadia", "fte": 0.8})
    report = api.get("/reports/supervision?as_at=2026-06-01", "manager").json()
    ben = next(r for r in report if r["worker"] == "ben")
    assert (ben["sessions"], ben["hours"], ben["last_session"], ben["overdue"]) == (1, 2.0, "2026-05-20", False)
    assert api.get("/reports/supervision?by=manager", "manager").json() == [
        {"manager": "nadia", "team": "north", "direct_reports": 1, "span_limit": 10, "over_span": False}]
    assert_error(api.get("/reports/supervision?team=south", "manager"), 403, "forbidden")
    assert_error(api.get("/reports/supervision", "amira"), 403, "forbidden")
    assert_error(api.request("PATCH", "/workers/ben/profile", "manager", json={"line_manager": "ben"}), 422,
                 "validation_error", "own line manager")


def test_the_huddle_board_says_whom_nobody_on_duty_can_take(api):
    api.waiting("LAS-1", client_group="learning_disability")
    api.waiting("LAS-2", client_group="physical_support")
    d = api.get("/huddle/north/data", "manager").json()
    assert d["nobody_can_take"] == [{"client_group": "learning_disability", "stage": "c1_waiting",
                                     "skill": "learning_disability", "waiting": 1}]
    # The page draws the panel from this document (the browser tests in test_huddle_browser.py read it).
    api.request("PUT", "/workers/ben/skills", "manager", json={"skills": ["learning_disability"]})
    assert api.get("/huddle/north/data", "manager").json()["nobody_can_take"] == []
