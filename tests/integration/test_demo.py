"""``pathway demo``: a synthetic council run live through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from typer.testing import CliRunner

from pathway import Engine
from pathway.cli import app
from pathway.cli.demo import NEXT, run_demo
from pathway.settings import Settings

END = dt.date(2026, 3, 31)


def test_demo_runs_every_contact_through_the_engine_and_reports_by_group(db_url):
    result = run_demo(db_url, seed=5, months=1, show_progress=False, end=END)
    assert result["episodes"] > 100 and result["events"] > 2 * result["episodes"]
    assert result["claims"] > 0, "allocations are self-allocations through the duty desk"
    rows = {r["client_group"]: r for r in result["rows"]}
    assert "physical_support" in rows and "learning_disability" in rows
    assert sum(r["allocated"] for r in rows.values()) > 0
    engine = Engine(db_url, settings=Settings(_env_file=None, database_url=db_url), migrate=False)
    try:
        with engine.transaction(write=False) as conn:
            episodes = conn.exec_driver_sql("SELECT count(*) FROM episode").scalar()
            events = conn.exec_driver_sql("SELECT count(*) FROM event").scalar()
            ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM episode ORDER BY id LIMIT 40")]
        # The pathway's events, the conversations held with them, and the welfare checks (a check on a
        # person with no open episode opens a contact: its event, the check, and a resolve unless a follow-up).
        assert result["conversations"] > 0 and result["welfare_checks"] > 0 and result["audits"] > 0
        assert episodes == result["episodes"] + result["check_contacts"]
        assert events >= result["events"] + result["conversations"] + result["welfare_checks"]
        for episode_id in ids:  # the log is the truth: replaying rebuilds every episode exactly
            assert engine.replay(episode_id) == engine.get(episode_id)
        # Learning disability and mental health need a specialist in conversations 1 and 3 (the demo's
        # skill rules), and only specialists were ever allocated them there.
        with engine.transaction(write=False) as conn:
            skilled = set(conn.exec_driver_sql("SELECT worker, skill FROM worker_skill").all())
            taken = conn.exec_driver_sql(
                "SELECT DISTINCT ev.worker, ep.client_group FROM event ev JOIN episode ep ON ep.id = ev.episode_id "
                "WHERE ev.trigger = 'allocate' AND ev.to_stage IN ('c1_active', 'c3_active') "
                "AND ep.client_group IN ('learning_disability', 'mental_health')").all()
        assert {s for _, s in skilled} == {"learning_disability", "mental_health"}
        assert taken and all((worker, group) in skilled for worker, group in taken)
        # Each team's manager line-manages and supervises its workers: the supervision report has them all.
        managers = engine.reports.supervision(as_at=END, by="manager")
        assert managers and sum(m["direct_reports"] for m in managers) == len(engine.workers()) - len(managers)
        rows = engine.reports.supervision(as_at=END)
        assert sum(r["sessions"] for r in rows) > 0 and all(r["line_manager"] for r in rows if r["role"] != "manager")
    finally:
        engine.dispose()


def test_demo_command_prints_the_table_starts_fresh_and_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATHWAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("PATHWAY_CONFIG_FILE", raising=False)
    runner = CliRunner()
    tables = []
    for _ in range(2):  # the second run replaces the first demo's pathway.db, and the seed repeats it
        out = runner.invoke(app, ["demo", "--months", "1", "--seed", "3"])
        assert out.exit_code == 0, out.output
        assert "Waits by client group" in out.output and "learning_disability" in out.output
        tables.append(out.output[out.output.index("Waits by client group"):])
    assert tables[0] == tables[1]
    # The database every other command uses by default, and what to try next with it.
    assert (tmp_path / "pathway.db").exists() and not (tmp_path / "pathway-demo.db").exists()
    assert "Next, try:" in tables[0]
    for command, _ in NEXT:
        assert command in tables[0]
    queue = runner.invoke(app, ["duty", "queue", "--team", "north"])
    assert queue.exit_code == 0 and "queue of team north" in queue.output, queue.output


def test_demo_leaves_alone_a_file_holding_teams_it_did_not_make(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATHWAY_DATABASE_URL", raising=False)
    url = "sqlite:///pathway.db"
    engine = Engine(url, settings=Settings(_env_file=None, database_url=url), actor="amira")
    engine.create_team(key="east", name="East")
    engine.dispose()
    out = CliRunner().invoke(app, ["demo", "--months", "1"])
    assert out.exit_code == 1 and "holds teams the demo did not make (east)" in out.output, out.output
    engine = Engine(url, settings=Settings(_env_file=None, database_url=url), migrate=False)
    assert [t["key"] for t in engine.teams()] == ["east"]
    engine.dispose()


def test_demo_refuses_a_database_that_is_not_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'used.db'}"
    Engine(url, settings=Settings(_env_file=None, database_url=url)).create_team(key="north", name="North")
    out = CliRunner().invoke(app, ["demo", "--months", "1", "--database-url", url])
    assert out.exit_code == 1
    assert "holds teams the demo did not make (north)" in out.output


def test_demo_refuses_silly_months(tmp_path):
    out = CliRunner().invoke(app, ["demo", "--months", "0", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
    assert out.exit_code == 1 and "months must be from 1 to 24" in out.output
