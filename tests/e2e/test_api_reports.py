"""Reports over HTTP: managers see their team, integrations any team, nobody else; bad parameters are 422."""

from __future__ import annotations

import json
import logging

import pytest
from api_support import assert_error, make_api


@pytest.fixture
def api(council, clock):
    api = make_api(council)
    clock.set("2026-05-01T09:00:00+00:00")
    api.waiting("LAS-1", client_group="mental_health")
    api.waiting("LAS-2", client_group="mental_health")
    api.waiting("LAS-3", client_group="unknown", team="south")
    clock.set("2026-05-20T12:00:00+00:00")
    return api


def rows_for(rows, **match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def test_waits_for_the_managers_team_by_default(api):
    r = api.get("/reports/waits", "manager", params={"group_by": "client_group,stage"})
    assert r.status_code == 200, r.text
    (mh,) = rows_for(r.json(), client_group="mental_health", stage="c1_waiting")
    assert (mh["waiting"], mh["max_days"], mh["over_threshold"]) == (2, 19, 2)
    assert sum(row["waiting"] for row in r.json()) == 2  # south's person is not counted
    assert_error(api.get("/reports/waits", "manager", params={"team": "south"}), 403, "forbidden")


def test_integration_sees_every_team(api):
    r = api.get("/reports/waits", "integration", params=[("group_by", "team"), ("group_by", "stage")])
    assert r.status_code == 200, r.text
    assert rows_for(r.json(), team="south", stage="c1_waiting")[0]["waiting"] == 1
    assert sum(row["waiting"] for row in r.json()) == 3


REPORTS = ["/reports/waits", "/reports/allocation", "/reports/caseloads", "/reports/outcomes", "/reports/trends",
           "/reports/forecast"]


def test_every_report_for_managers_and_integrations_only(api, subtests):
    for path in REPORTS:
        with subtests.test(path=path):
            for who in ("manager", "integration"):
                r = api.get(path, who)
                assert r.status_code == 200, (who, r.text)
                assert isinstance(r.json(), list)
            for who in ("amira", "admin"):
                assert_error(api.get(path, who), 403, "forbidden")
            assert_error(api.get(path), 401, "unauthorized")


def test_bad_report_parameters_are_422(api, subtests):
    for params, words in (({"as_at": "last tuesday"}, "as_at"), ({"as_at": "2099-01-01"}, "future"),
                          ({"group_by": "colour"}, "group by any of"), ({"team": "nowhere"}, "teams are")):
        with subtests.test(params=params):
            assert_error(api.get("/reports/waits", "integration", params=params), 422, "validation_error", words)


def test_allocation_period(api):
    assert_error(api.get("/reports/allocation", "integration", params={"from": "2026-05-10", "to": "2026-05-01"}),
                 422, "validation_error", "after")
    ep = api.get("/teams/north/queue", "manager").json()[0]
    api.fire(ep["id"], "allocate", as_="manager", worker="ben")
    r = api.get("/reports/allocation", "manager", params={"from": "2026-05-01", "to": "2026-05-20",
                                                          "group_by": "client_group"})
    (row,) = rows_for(r.json(), client_group="mental_health")
    assert (row["allocated"], row["mean_days"]) == (1, 19.0)


def test_request_log_is_json_lines_with_the_actor_and_no_person_data(api, caplog):
    with caplog.at_level(logging.INFO, logger="pathway.http"):
        api.post("/contacts", "amira", json={"person_ref": "LAS-73310", "client_group": "unknown", "team": "north"})
        api.get("/reports/waits", "manager", params={"team": "north"})
        api.get("/huddle/north", params={"token": api.tokens["manager"]}, follow_redirects=False)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "pathway.http"]
    assert [(x["method"], x["path"], x["status"], x["actor"]) for x in lines] == [
        ("POST", "/contacts", 201, api.actors["amira"]), ("GET", "/reports/waits", 200, api.actors["manager"]),
        ("GET", "/huddle/north", 303, api.actors["manager"])]
    assert all(isinstance(x["ms"], float) for x in lines)
    text = caplog.text
    assert "LAS-73310" not in text and api.tokens["manager"] not in text
