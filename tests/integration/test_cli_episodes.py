"""``pathway episode contact|fire|show|history`` and ``pathway duty claim`` on a real database."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from pathway.cli import app
from pathway.errors import NotFound

runner = CliRunner()


@pytest.fixture
def shell(council, db_url, monkeypatch):
    """``pathway …`` on the council's database, returning the finished run."""
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run


def test_contact_fire_show_and_history(shell, council):
    made = shell("episode", "contact", "--person-ref", "LAS-9", "--client-group", "mental_health", "--team", "north",
                 "--priority", "high", "--route", "gp", "--actor", "reception", "--format", "json")
    assert made.exit_code == 0, made.output
    ep = json.loads(made.stdout)[0]
    assert (ep["person_ref"], ep["stage"], ep["priority"], ep["version"]) == ("LAS-9", "contact", "high", 1)

    for args in (["refer"], ["allocate", "--worker", "ben"], ["crisis", "--keep-worker"],
                 ["stabilise", "--to", "c3", "--note", "needs a personal budget", "--expected-version", "4"]):
        done = shell("episode", "fire", str(ep["id"]), *args, "--actor", "nadia")
        assert done.exit_code == 0, (args, done.output)
    shown = shell("episode", "show", str(ep["id"]), "--format", "json")
    assert json.loads(shown.stdout)[0]["stage"] == "c3_waiting"
    table = shell("episode", "show", str(ep["id"]))
    assert "c3_waiting" in table.stdout

    log = json.loads(shell("episode", "history", str(ep["id"]), "--format", "json").stdout)
    assert [e["to_stage"] for e in log] == ["contact", "c1_waiting", "c1_active", "c2_active", "c3_waiting"]
    assert [e["actor"] for e in log] == ["reception", "nadia", "nadia", "nadia", "nadia"]
    assert log[3]["data"] == {"keep_worker": True}
    assert (log[4]["data"], log[4]["note"]) == ({"to": "c3"}, "needs a personal budget")
    rows = list(csv.DictReader(io.StringIO(shell("episode", "history", str(ep["id"]), "--format", "csv").stdout)))
    assert [r["trigger"] for r in rows] == ["record_contact", "refer", "allocate", "crisis", "stabilise"]
    assert council.get(ep["id"]).stage == "c3_waiting"


def test_an_impossible_move_names_the_stage_and_the_allowed_triggers(shell, council):
    ep = council.record_contact("LAS-1", "unknown", "north")
    done = shell("episode", "fire", str(ep.id), "allocate", "--worker", "ben")
    assert done.exit_code == 1
    assert "stage contact" in done.output and "refer" in done.output and "resolve" in done.output
    assert "Traceback" not in done.output
    assert len(council.history(ep.id)) == 1


def test_a_stale_expected_version_and_bad_input_exit_1_and_write_nothing(shell, council):
    ep = council.record_contact("LAS-1", "unknown", "north")
    council.fire(ep.id, "refer")
    for args, words in ((["close", "--outcome", "declined", "--expected-version", "1"], "version 2"),
                        (["close", "--outcome", "happy"], "outcomes are"),
                        (["teleport"], "triggers are")):
        done = shell("episode", "fire", str(ep.id), *args)
        assert done.exit_code == 1, (args, done.output)
        assert words in done.output, (args, done.output)
    assert shell("episode", "show", "999").exit_code == 1
    assert shell("episode", "contact", "--person-ref", "LAS-2", "--client-group", "unknown",
                 "--team", "east").exit_code == 1
    assert len(council.history(ep.id)) == 2


def test_the_engine_reads_teams_and_workers(council):
    assert [t["key"] for t in council.teams()] == ["north", "south"]
    assert [w["key"] for w in council.workers("north")] == ["amira", "ben"]
    assert [w["key"] for w in council.workers()] == ["amira", "ben", "cara"]
    assert council.worker("cara")["team"] == "south"
    with pytest.raises(NotFound, match="'zed'"):
        council.worker("zed")


def test_duty_claim_finds_the_workers_team(shell, council):
    ep = council.record_contact("LAS-1", "unknown", "north")
    council.fire(ep.id, "refer")
    done = shell("duty", "claim", "--worker", "ben", "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["worker"] == "ben"
    nobody = shell("duty", "claim", "--worker", "zed")
    assert nobody.exit_code == 1 and "zed" in nobody.output
