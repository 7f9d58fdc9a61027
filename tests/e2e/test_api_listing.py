"""GET /episodes, GET /workers/{worker}/tray and GET /teams/{team}/front-door with their role rules, and the
same reads from the command line (pathway duty front-door, pathway duty mine)."""

from __future__ import annotations

import json

import pytest
from api_support import make_api
from typer.testing import CliRunner

from pathway.cli import app as cli_app

runner = CliRunner()


@pytest.fixture
def api(council):
    api = make_api(council)
    north = api.contact("N-1", team="north", external_ref="CW-1")
    crisis = api.contact("N-2", team="north", priority="crisis")
    api.contact("S-1", team="south")
    api.fire(north["id"], "refer")
    api.fire(north["id"], "allocate", worker="amira")
    api.fire(north["id"], "flag", reason="stress")
    api.ids = {"north": north["id"], "crisis": crisis["id"]}
    return api


def test_a_duty_token_reads_its_own_tray_and_a_manager_any_tray_of_the_team(api):
    r = api.get("/workers/amira/tray", "amira")
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert (item["id"], item["flagged"], item["flag_reason"], item["last_event"]) == (api.ids["north"], True,
                                                                                      "stress", "flag")
    assert "version" not in item
    assert api.get("/workers/amira/tray", "ben").status_code == 403
    assert api.get("/workers/amira/tray", "manager").json() == r.json()
    assert api.get("/workers/amira/tray", "manager_south").status_code == 403
    assert api.get("/workers/nobody/tray", "manager").status_code == 404


def test_the_listing_shows_a_team_its_own_episodes_only(api):
    r = api.get("/episodes", "amira")
    assert r.status_code == 200, r.text
    assert {ep["team"] for ep in r.json()["items"]} == {"north"}
    assert api.get("/episodes", "amira", params={"team": "south"}).status_code == 403
    assert api.get("/episodes", "manager_south").json()["items"][0]["person_ref"] == "S-1"
    everyone = api.get("/episodes", "integration").json()
    assert len(everyone["items"]) == 3 and everyone["next_cursor"] is None
    by_ref = api.get("/episodes", "integration", params={"external_ref": "CW-1"}).json()["items"]
    assert [ep["id"] for ep in by_ref] == [api.ids["north"]]
    assert by_ref[0]["external_ref"] == "CW-1"
    page = api.get("/episodes", "integration", params={"limit": 2}).json()
    rest = api.get("/episodes", "integration", params={"cursor": page["next_cursor"]}).json()
    assert [ep["id"] for ep in page["items"] + rest["items"]] == [ep["id"] for ep in everyone["items"]]
    assert api.get("/episodes", "integration", params={"flagged": "true"}).json()["items"][0]["id"] == api.ids["north"]
    bad = api.get("/episodes", "integration", params={"cursor": "nope"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]


def test_the_front_door_over_http_for_the_team(api):
    r = api.get("/teams/north/front-door", "amira")
    assert r.status_code == 200, r.text
    assert [ep["id"] for ep in r.json()] == [api.ids["crisis"]]
    assert api.get("/teams/north/front-door", "cara").status_code == 403
    assert api.get("/teams/north/front-door", "manager").status_code == 200


def test_the_front_door_and_the_tray_from_the_command_line(api, db_url, monkeypatch):
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    done = runner.invoke(cli_app, ["duty", "front-door", "--team", "north", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert [row["id"] for row in json.loads(done.stdout)] == [api.ids["crisis"]]
    done = runner.invoke(cli_app, ["duty", "mine", "--worker", "amira", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert [(row["id"], row["flagged"]) for row in json.loads(done.stdout)] == [(api.ids["north"], True)]
    done = runner.invoke(cli_app, ["duty", "mine", "--worker", "nobody"])
    assert done.exit_code == 1 and "unknown worker 'nobody'" in done.output


def test_progression_and_the_front_door_reports_over_http_and_the_command_line(api, db_url, monkeypatch):
    r = api.get("/reports/progression", "manager")
    assert r.status_code == 200, r.text
    assert r.json() == [{"worker": "amira", "stage": "c1_active", "active": 1, "median_days_active": 0.0,
                         "max_days_active": 0, "stale": 0, "overdue_next_actions": 0, "flagged_not_discussed": 1,
                         "longest_since_discussed": 0}]
    assert api.get("/reports/progression", "manager_south").json() == []  # a manager's own team by default
    assert api.get("/reports/progression", "amira").status_code == 403
    r = api.get("/reports/front-door", "integration", params={"team": "north"})
    assert r.status_code == 200, r.text
    today = r.json()[-1]
    assert (today["contacts"], today["decided"], today["decided_same_day"]) == (2, 1, 1)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    done = runner.invoke(cli_app, ["report", "progression", "--team", "north", "--format", "json"])
    assert done.exit_code == 0, done.output
    # The command line's clock is the real one: the days differ, the episodes do not.
    (row,) = json.loads(done.stdout)
    assert (row["worker"], row["stage"], row["active"], row["flagged_not_discussed"]) == ("amira", "c1_active", 1, 1)
    done = runner.invoke(cli_app, ["report", "front-door", "--team", "north", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert sum(row["contacts"] for row in json.loads(done.stdout)) == 0  # none in the 28 days to the real today
