"""Case-file audits, welfare checks in bulk and the scrutiny commands, on SQLite and PostgreSQL, with
figures worked out by hand."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from pathway.errors import Forbidden, InvalidTransition, NotFound, ValidationError

NOW = dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def files(council, clock):
    """Ten episodes: 1-4 from January (1 and 2 closed in February), 5-10 from April; north 1, 2, 5-7."""
    e = council
    clock.set(NOW)
    teams = ["north", "north", "south", "south", "north", "north", "north", "south", "south", "south"]
    for i, team in enumerate(teams, start=1):
        day = f"2026-01-0{4 + i}" if i <= 4 else f"2026-04-0{i - 3}"
        ep = e.record_contact(f"A-{i}", "mental_health" if i % 2 else "learning_disability", team,
                              occurred_at=f"{day}T09:00:00+00:00").id
        assert ep == i
        e.fire(ep, "refer", occurred_at=f"{day}T10:00:00+00:00")
    for ep in (1, 2):
        e.fire(ep, "close", outcome="met_at_c1", occurred_at="2026-02-01T09:00:00+00:00")
    # The first quarter's audits, before any sample was drawn: each needs a reason.
    for ep, rating in ((1, "outstanding"), (2, "good"), (3, "good"), (4, "requires_improvement")):
        e.record_audit(ep, rating, auditor="audit-lead", audited_on="2026-03-10", reason="quarterly review")
    return e


def test_the_sample_is_stratified_and_the_same_for_the_same_seed(files):
    drawn = files.audit_sample("2026-04-01", "2026-06-30", 0.25, seed=42, stratify="team")
    # Active or closed in the quarter: 3, 4 (open since January) and 5-10; 1 and 2 closed in February.
    # North has 3 (25 % rounded up: 1), south 5 (2).
    assert (drawn["population"], drawn["sampled"], drawn["stratify"]) == (8, 3, ["team"])
    assert [(r["stratum"], r["episode_id"]) for r in drawn["episodes"]] == [("north", 6), ("south", 4), ("south", 9)]
    again = files.audit_sample("2026-04-01", "2026-06-30", "0.25", seed=42, stratify=["team"])
    assert again["sample_id"] == drawn["sample_id"] and again["episodes"] == drawn["episodes"]
    other = files.audit_sample("2026-04-01", "2026-06-30", 0.25, seed=7, stratify="team")
    assert [r["episode_id"] for r in other["episodes"]] == [7, 3, 4]
    whole = files.audit_sample("2026-04-01", "2026-06-30", 0.25, seed=42)
    assert [r["episode_id"] for r in whole["episodes"]] == [4, 6]  # 25 % of 8


@pytest.mark.parametrize("rate", [0, -0.1, 1.5, "abc", float("nan")])
def test_a_rate_outside_zero_to_one_is_refused(files, rate):
    with pytest.raises(ValidationError, match="rate"):
        files.audit_sample("2026-04-01", "2026-06-30", rate, seed=1)
    assert files.reports.audits(start="2026-04-01", end="2026-06-30", by="council")[0]["sampled"] == 0


def test_bad_samples_and_audits_are_refused_and_write_nothing(files):
    with pytest.raises(ValidationError, match="stratify by any of: client_group, team"):
        files.audit_sample("2026-04-01", "2026-06-30", 0.1, seed=1, stratify="postcode")
    with pytest.raises(ValidationError, match="from 2026-06-30 is after to 2026-04-01"):
        files.audit_sample("2026-06-30", "2026-04-01", 0.1, seed=1)
    files.audit_sample("2026-04-01", "2026-06-30", 0.25, seed=42, stratify="team")
    before = len(files.audit_log())
    with pytest.raises(ValidationError, match="ratings are: outstanding, good, requires_improvement, inadequate"):
        files.record_audit(6, "excellent", auditor="x")
    with pytest.raises(NotFound):
        files.record_audit(999, "good", auditor="x")
    with pytest.raises(ValidationError, match="in the future"):
        files.record_audit(6, "good", auditor="x", audited_on="2026-07-02")
    with pytest.raises(ValidationError, match="before the episode's contact"):
        files.record_audit(6, "good", auditor="x", audited_on="2026-03-01")
    with pytest.raises(ValidationError, match="not in any audit sample; an audit outside the sample needs a reason"):
        files.record_audit(5, "good", auditor="x")
    with pytest.raises(Forbidden, match="a manager of 'south' audits their own team's"):
        files.record_audit(6, "good", auditor="x", team="south")
    assert len(files.audit_log()) == before
    row = files.record_audit(6, "good", auditor="audit-lead", themes="risk,carers", actor="manager:north:nadia")
    assert (row["in_sample"], row["themes"], row["recorded_by"]) == (True, ["risk", "carers"], "manager:north:nadia")


def test_the_audits_report_by_quarter_with_the_change(files):
    files.audit_sample("2026-04-01", "2026-06-30", 0.25, seed=42, stratify="team")
    for ep, rating, reason in ((6, "good", None), (4, "good", None), (9, "outstanding", None),
                               (5, "inadequate", "complaint"), (8, "good", "complaint")):
        files.record_audit(ep, rating, auditor="audit-lead", audited_on="2026-05-20", reason=reason)
    rows = files.reports.audits(start="2026-01-01", end="2026-06-30", by="council")
    assert [(r["quarter"], r["team"]) for r in rows] == [("2026-Q1", "council"), ("2026-Q2", "council")]
    q1, q2 = rows
    # Q1: 4 audits of 4 people served (1-4), 3 good or better; the quarter before had none.
    assert {k: q1[k] for k in ("sampled", "audited", "in_sample", "served", "coverage_pct", "good_or_better",
                               "good_or_better_pct", "good_or_better_low", "good_or_better_high",
                               "change_pct_points")} == {
        "sampled": 0, "audited": 4, "in_sample": 0, "served": 4, "coverage_pct": 100.0, "good_or_better": 3,
        "good_or_better_pct": 75.0, "good_or_better_low": 30.1, "good_or_better_high": 95.4,
        "change_pct_points": None}
    # Q2: 3 sampled, 5 audits (3 in the sample) of 8 people served (3-10), 4 good or better: 80 %, +5 points.
    assert {k: q2[k] for k in ("sampled", "audited", "in_sample", "served", "coverage_pct", "good_or_better",
                               "good_or_better_pct", "good_or_better_low", "good_or_better_high",
                               "change_pct_points")} == {
        "sampled": 3, "audited": 5, "in_sample": 3, "served": 8, "coverage_pct": 62.5, "good_or_better": 4,
        "good_or_better_pct": 80.0, "good_or_better_low": 37.6, "good_or_better_high": 96.4,
        "change_pct_points": 5.0}
    # North: Q1 1 and 2 (100 %), Q2 6 good and 5 inadequate; south: Q1 3 good and 4 not, Q2 all three.
    by_team = files.reports.audits(start="2026-04-01", end="2026-06-30")
    assert [(r["team"], r["sampled"], r["audited"], r["served"], r["good_or_better_pct"], r["change_pct_points"])
            for r in by_team] == [("north", 1, 2, 3, 50.0, -50.0), ("south", 2, 3, 5, 100.0, 50.0)]


def test_welfare_checks_in_bulk_all_or_nothing(files, tmp_path):
    good = tmp_path / "checks.csv"
    good.write_text("person_ref,team,when,outcome,client_group\n"
                    "A-5,north,2026-06-02,spoken,\n"  # on A-5's open episode
                    "W-1,south,2026-06-03,no_answer,\n"  # nobody open: a contact resolved at once
                    "W-2,north,2026-06-03,needs_follow_up,mental_health\n"  # a contact left open
                    "W-2,north,2026-06-09,spoken,\n", encoding="utf-8")  # on that contact
    summary = files.import_outreach(str(good))
    assert summary.to_dict() == {"rows": 4, "on_open_episode": 2, "resolved_contacts": 1, "follow_up_contacts": 1,
                                 "unchanged": 0}
    assert files.import_outreach(str(good)).unchanged == 4  # the same file again adds nothing
    w1 = files.history(11)
    assert [(e["trigger"], e["to_stage"], e["outcome"]) for e in w1] == [
        ("record_contact", "contact", None), ("welfare_check", "contact", None),
        ("resolve", "closed", "welfare_check_done")]
    w2 = files.get(12)
    assert (w2.stage, w2.client_group, w2.route) == ("contact", "mental_health", "welfare_check")
    assert files.replay(12) == w2
    rows = files.reports.welfare_checks(start="2026-06-01", end="2026-06-14", by="week")
    assert [(str(r["period_start"]), r["outcome"], r["checks"], r["open_episode"], r["resolved_contact"],
             r["follow_up_contact"]) for r in rows if r["checks"]] == [
        ("2026-06-01", "spoken", 1, 1, 0, 0), ("2026-06-01", "no_answer", 1, 0, 1, 0),
        ("2026-06-01", "needs_follow_up", 1, 0, 0, 1), ("2026-06-08", "spoken", 1, 1, 0, 0)]
    bad = tmp_path / "bad.csv"
    bad.write_text("person_ref,team,when,outcome\n"
                   "B-1,north,2026-06-04,spoken\n"
                   "Jane Doe,north,2026-06-04,spoken\n"
                   "B-2,west,2026-06-04,spoken\n"
                   "B-3,north,2026-07-04,spoken\n"
                   "B-4,north,2026-06-04,waved\n"
                   "A-6,north,2026-03-01,spoken\n", encoding="utf-8")  # before A-6's episode began
    events = len(files.history(6))
    with pytest.raises(ValidationError) as err:
        files.import_outreach(str(bad))
    assert [e["line"] for e in err.value.extra["errors"]] == [3, 4, 5, 6, 7]
    assert "nothing was written" in err.value.detail
    assert len(files.history(6)) == events
    with pytest.raises(NotFound):
        files.get(13)  # B-1's contact was not written either
    with pytest.raises(ValidationError, match="no outcome column"):
        files.import_outreach("person_ref,team,when\nA-1,north,2026-06-01\n")


def test_one_welfare_check_recorded_on_its_own_counts_with_the_bulk_ones(files):
    """A worker's single check is the event kind the outreach import writes, on an open episode."""
    before = files.get(6)
    after = files.fire(6, "welfare_check", outcome="needs_follow_up", occurred_at="2026-06-05T11:00:00+00:00",
                       note="neighbour worried", idempotency_key="wc-6")
    assert (after.stage, after.version) == (before.stage, before.version + 1)
    last = files.history(6)[-1]
    assert (last["trigger"], last["from_stage"], last["to_stage"], last["outcome"], last["note"], last["data"]) == (
        "welfare_check", "c1_waiting", "c1_waiting", None, "neighbour worried",
        {"outcome": "needs_follow_up", "placed": "open_episode"})
    assert files.replay(6) == files.get(6)
    assert files.progress(6) == files.progress(6, replayed=True)
    assert files.fire(6, "welfare_check", outcome="needs_follow_up", occurred_at="2026-06-05T11:00:00+00:00",
                      note="neighbour worried", idempotency_key="wc-6") == after  # a retry writes nothing
    rows = files.reports.welfare_checks(start="2026-06-01", end="2026-06-07", by="week")
    assert [(r["outcome"], r["checks"], r["open_episode"]) for r in rows if r["checks"]] == [
        ("needs_follow_up", 1, 1)]
    events = {ep: len(files.history(ep)) for ep in (1, 6)}
    with pytest.raises(InvalidTransition, match="cannot welfare_check from stage closed"):
        files.fire(1, "welfare_check", outcome="spoken")
    with pytest.raises(ValidationError, match="a check's outcome is one of: spoken, no_answer, needs_follow_up"):
        files.fire(6, "welfare_check", outcome="met_at_c1")
    with pytest.raises(ValidationError, match="outcome is not taken by flag"):
        files.fire(6, "flag", reason="r", outcome="spoken")
    assert {ep: len(files.history(ep)) for ep in (1, 6)} == events


class _Borrowed:
    """The test's engine, lent to a command that disposes of the engine it is given."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def dispose(self):
        pass


def test_the_scrutiny_commands(files, monkeypatch, tmp_path):
    import sys

    from pathway.cli import app
    from pathway.cli import scrutiny as cli_scrutiny

    for module in (sys.modules["pathway.cli.app"], cli_scrutiny):  # with_engine's, and the pack's own
        monkeypatch.setattr(module, "get_engine", lambda *a, **k: _Borrowed(files))
    runner = CliRunner()
    out = runner.invoke(app, ["audit", "sample", "--from", "2026-04-01", "--to", "2026-06-30", "--rate", "0.25",
                              "--stratify", "team", "--seed", "42", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [r["episode_id"] for r in json.loads(out.stdout)["episodes"]] == [6, 4, 9]
    out = runner.invoke(app, ["audit", "sample", "--from", "2026-04-01", "--to", "2026-06-30", "--rate", "1.5",
                              "--seed", "42"])
    assert out.exit_code == 1 and "outside (0, 1]" in out.output
    out = runner.invoke(app, ["audit", "record", "6", "--rating", "good", "--on", "2026-05-20", "--actor", "nadia"])
    assert out.exit_code == 0 and "rated good" in out.output, out.output
    out = runner.invoke(app, ["audit", "record", "6", "--rating", "fine"])
    assert out.exit_code == 1 and "ratings are" in out.output
    out = runner.invoke(app, ["report", "audits", "--from", "2026-04-01", "--to", "2026-06-30", "--by", "council",
                              "--format", "json"])
    assert json.loads(out.stdout) == json.loads(json.dumps(
        files.reports.audits(start="2026-04-01", end="2026-06-30", by="council"), default=str))
    out = runner.invoke(app, ["episode", "conversation", "7", "held", "--mode", "phone", "--minutes", "20",
                              "--occurred-at", "2026-06-10"])
    assert out.exit_code == 0, out.output
    assert files.history(7)[-1]["data"] == {"status": "held", "mode": "phone", "minutes": 20}
    out = runner.invoke(app, ["episode", "conversation", "7", "held", "--mode", "fax"])
    assert out.exit_code == 1 and "modes are: phone, video, home_visit, community_venue" in out.output
    assert len(files.history(7)) == 3
    out = runner.invoke(app, ["report", "three-conversations", "--from", "2026-04-01", "--to", "2026-06-30",
                              "--by", "period", "--format", "json"])
    row = json.loads(out.stdout)[0]
    assert (row["cohort"], row["contacts"], row["first_conversations_held"]) == ("all", 6, 1)
    out = runner.invoke(app, ["report", "conversations", "--from", "2026-06-01", "--to", "2026-06-30", "--format",
                              "csv"])
    assert "phone,1,20" in out.stdout.replace("2026-06-01,2026-06-30,", "")
    checks = tmp_path / "c.csv"
    checks.write_text("person_ref,team,when,outcome\nA-5,north,2026-06-02,spoken\nB-9,mars,2026-06-02,spoken\n")
    out = runner.invoke(app, ["outreach", "import", str(checks)])
    assert out.exit_code == 1 and "line 3: unknown team 'mars'" in out.output
    target = tmp_path / "pack.html"
    out = runner.invoke(app, ["report", "pack", "--from", "2026-01-01", "--to", "2026-06-30", "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert target.read_text().startswith("<!doctype html>")
