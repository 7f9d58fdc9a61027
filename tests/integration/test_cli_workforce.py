"""``pathway workforce …`` and ``pathway report supervision`` on a real database."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from pathway.cli import app
from pathway.domain import days

runner = CliRunner()


@pytest.fixture
def shell(council, db_url, monkeypatch):
    """``pathway …`` on the council's database, returning the finished run (the command's clock is the
    real one: dates below are counted from today)."""
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run


TODAY = days.london_date(days.now())


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def test_skills_role_line_manager_and_the_log(shell, council):
    done = shell("workforce", "skills", "ben", "--skill", "autism", "--skill", "sensory", "--actor", "nadia",
                 "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["skills"] == "autism, sensory"
    assert shell("workforce", "update", "amira", "--role", "manager", "--actor", "nadia").exit_code == 0
    done = shell("workforce", "update", "ben", "--line-manager", "amira", "--fte", "0.5", "--format", "json")
    assert done.exit_code == 0, done.output
    assert (json.loads(done.stdout)[0]["line_manager"], json.loads(done.stdout)[0]["fte"]) == ("amira", 0.5)
    bad = shell("workforce", "skills", "ben", "--skill", "juggling")
    assert bad.exit_code == 1 and "unknown skill 'juggling'" in bad.output
    bad = shell("workforce", "update", "amira", "--line-manager", "ben")
    assert bad.exit_code == 1 and "'ben' is not a manager" in bad.output
    log = json.loads(shell("workforce", "log", "ben", "--format", "json").stdout)
    assert [(r["kind"], r["actor"]) for r in log][0] == ("skills", "nadia")
    assert [r["kind"] for r in log] == ["skills", "fte", "line_manager"]


def test_absence_release_all_and_supervision_report(shell, council):
    ep = council.fire(council.record_contact("LAS-1", "physical_support", "north").id, "refer")
    council.claim(ep.id, "ben")
    bad = shell("workforce", "absence", "ben", "--start", day(2), "--end", day(0), "--reason", "leave")
    assert bad.exit_code == 1 and f"ends ({day(0)}) before it starts ({day(2)})" in bad.output
    done = shell("workforce", "absence", "ben", "--start", day(0), "--end", day(2), "--reason", "sickness")
    assert done.exit_code == 0, done.output
    done = shell("workforce", "release-all", "ben", "--reason", "sickness", "--actor", "nadia", "--format", "json")
    assert done.exit_code == 0, done.output
    assert [(r["id"], r["stage"]) for r in json.loads(done.stdout)] == [(ep.id, "c1_waiting")]
    assert council.history(ep.id)[-1]["actor"] == "nadia"
    assert [r["reason"] for r in json.loads(shell("workforce", "absences", "ben", "--format", "json").stdout)] == [
        "sickness"]

    assert shell("workforce", "update", "amira", "--role", "manager").exit_code == 0
    bad = shell("workforce", "supervise", "ben", "--supervisor", "amira", "--on", day(1), "--minutes", "90")
    assert bad.exit_code == 1 and "in the future" in bad.output
    done = shell("workforce", "supervise", "ben", "--supervisor", "amira", "--on", day(-30), "--minutes", "90",
                 "--sampled")
    assert done.exit_code == 0, done.output
    report = json.loads(shell("report", "supervision", "--as-at", day(0), "--format", "json").stdout)
    ben = next(r for r in report if r["worker"] == "ben")
    assert (ben["sessions"], ben["full_sessions"], ben["hours"], ben["sampled"], ben["away"]) == (
        1, 0, 1.5, 1, "sickness")
    table = shell("report", "supervision", "--by", "manager", "--format", "csv")
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines() == ["manager,team,direct_reports,span_limit,over_span", "amira,north,0,10,False"]


def test_a_manager_allocates_a_person_already_weighed(shell, council, tmp_path, monkeypatch):
    config = tmp_path / "pathway.toml"
    config.write_text("[workforce]\nweighting = true\n")
    monkeypatch.setenv("PATHWAY_CONFIG_FILE", str(config))
    first, second = (council.fire(council.record_contact(f"LAS-{n}", "physical_support", "north").id, "refer")
                     for n in (1, 2))
    allocate = ("--worker", "amira", "--weight", "2", "--weight-reason", "court work", "--actor", "nadia")
    done = shell("episode", "fire", str(first.id), "allocate", *allocate, "--format", "json")
    assert done.exit_code == 0, done.output
    assert council.history(first.id)[-1]["data"] == {"weight": 2.0, "weight_reason": "court work"}
    report = json.loads(shell("report", "caseloads", "--team", "north", "--format", "json").stdout)
    assert next(r for r in report if r["worker"] == "amira")["weight"] == 2.0
    events = len(council.history(second.id))
    bad = shell("episode", "fire", str(second.id), "allocate", *allocate)  # amira's cap is 3: 2 + 2 would pass it
    assert bad.exit_code == 1 and "at weight 2" in bad.output
    bad = shell("episode", "fire", str(second.id), "allocate", "--worker", "amira", "--weight", "9",
                "--weight-reason", "court work")
    assert bad.exit_code == 1 and "weight must be a number from 0.25 to 4" in bad.output
    bad = shell("episode", "fire", str(second.id), "close", "--outcome", "declined", "--weight", "2",
                "--weight-reason", "court work")
    assert bad.exit_code == 1 and "weight is given only with allocate, not with close" in bad.output
    assert len(council.history(second.id)) == events
    assert [r["kind"] for r in council.workforce.log("amira")] == ["reweigh"]
