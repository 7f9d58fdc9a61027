"""Teams and workers on the command line (pathway team, pathway staff) and in the library: a worker's cap,
team and whether they are active, each change recorded with who made it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pathway import Conflict, NotFound, ValidationError
from pathway.cli import app


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    runner = CliRunner()

    def run(*args, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_teams_and_staff_are_made_and_listed_on_the_command_line(cli):
    cli("team", "add", "north", "--name", "North")
    cli("team", "add", "south", "--name", "South")
    teams = json.loads(cli("team", "list", "--format", "json"))
    assert [(t["key"], t["name"], t["created_by"]) for t in teams] == [("north", "North", "cli"),
                                                                        ("south", "South", "cli")]
    cli("staff", "add", "amira", "--name", "Amira", "--team", "north", "--cap", "30")
    cli("staff", "add", "cara", "--name", "Cara", "--team", "south")
    staff = json.loads(cli("staff", "list", "--format", "json"))
    assert [(w["key"], w["team"], w["cap"], w["caseload"], w["active"]) for w in staff] == [
        ("amira", "north", 30, 0, True), ("cara", "south", 35, 0, True)]
    assert [w["key"] for w in json.loads(cli("staff", "list", "--team", "south", "--format", "json"))] == ["cara"]
    assert "unknown team 'west'; teams are: north, south" in cli("staff", "add", "dev", "--name", "Dev", "--team",
                                                                 "west", code=1)
    assert "already exists" in cli("team", "add", "north", "--name", "North again", code=1)


def test_staff_update_changes_cap_team_and_active_and_records_who(council, cli):
    out = json.loads(cli("staff", "update", "ben", "--cap", "12", "--inactive", "--format", "json"))
    assert [(w["key"], w["cap"], w["caseload_cap"], w["active"], w["updated_by"]) for w in out] == [
        ("ben", 12, 12, False, "cli")]
    out = json.loads(cli("staff", "update", "ben", "--default-cap", "--active", "--team", "south", "--format", "json"))
    assert [(w["team"], w["cap"], w["caseload_cap"], w["active"]) for w in out] == [("south", 35, None, True)]
    assert "nothing to change" in cli("staff", "update", "ben", code=1)
    assert "not both" in cli("staff", "update", "ben", "--cap", "3", "--default-cap", code=1)
    assert "at least 1" in cli("staff", "update", "ben", "--cap", "0", code=1)
    assert "unknown worker 'zed'" in cli("staff", "update", "zed", "--cap", "3", code=1)


def test_an_inactive_worker_takes_no_allocation_and_one_holding_cases_stays_in_their_team(council):
    ep = council.fire(council.record_contact("P-1", "mental_health", "north").id, "refer")
    council.update_worker("amira", active=False, actor="manager:north:nadia")
    for take in (lambda: council.claim_next("north", "amira"), lambda: council.claim(ep.id, "amira"),
                 lambda: council.fire(ep.id, "allocate", worker="amira")):
        with pytest.raises(Conflict, match="worker 'amira' is inactive and takes no allocation"):
            take()
    assert council.get(ep.id).stage == "c1_waiting"
    council.update_worker("amira", active=True)
    assert council.claim_next("north", "amira").id == ep.id
    with pytest.raises(Conflict, match="holds 1 active episode in team 'north'; release them"):
        council.update_worker("amira", team="south")
    with pytest.raises(NotFound, match="unknown team 'west'; teams are: north, south"):
        council.update_worker("ben", team="west")
    with pytest.raises(ValidationError, match="nothing to change"):
        council.update_worker("ben")
    (amira,) = [w for w in council.staff("north") if w["key"] == "amira"]
    assert (amira["team"], amira["caseload"], amira["updated_by"]) == ("north", 1, "test")
