"""Trends, outcomes and flow, forecasts, caseloads and the ``pathway report`` command, figures written out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from test_reports_waits import TODAY, at, contact, huddle  # noqa: F401  (the huddle fixture)
from typer.testing import CliRunner

from pathway.errors import ValidationError

D = dt.date.fromisoformat


def test_weekly_trend_from_the_event_log(huddle):  # noqa: F811
    rows = huddle.reports.trends(group_by=[], start="2026-06-01", end="2026-06-30", period="week")
    assert [(r["period_start"], r["period_end"]) for r in rows] == [
        (D("2026-06-01"), D("2026-06-07")), (D("2026-06-08"), D("2026-06-14")), (D("2026-06-15"), D("2026-06-21")),
        (D("2026-06-22"), D("2026-06-28")), (D("2026-06-29"), D("2026-07-05"))]
    figures = [{k: r[k] for k in ("waiting", "median_days", "p90_days", "over_threshold", "allocated",
                                  "mean_days_to_allocation", "median_days_to_allocation")} for r in rows]
    assert figures == [
        # 7 June: LD-1 6 days, MH-2 18 days; PS-1 allocated after 3 days.
        {"waiting": 2, "median_days": 12.0, "p90_days": 16.8, "over_threshold": 1, "allocated": 1,
         "mean_days_to_allocation": 3.0, "median_days_to_allocation": 3.0},
        # 14 June: LD-1 13, MH-2 25; MH-1 allocated after 2 days.
        {"waiting": 2, "median_days": 19.0, "p90_days": 23.8, "over_threshold": 2, "allocated": 1,
         "mean_days_to_allocation": 2.0, "median_days_to_allocation": 2.0},
        # 21 June: [2, 2, 6, 11, 20, 32] (MH-1 released on the 20th waits 11 days, PS-1 6 days in c3).
        {"waiting": 6, "median_days": 8.5, "p90_days": 26.0, "over_threshold": 2, "allocated": 0,
         "mean_days_to_allocation": None, "median_days_to_allocation": None},
        # 28 June: [0, 1, 9, 9, 13, 18, 27, 39] (the crisis began at 00:30 London time on the 28th).
        {"waiting": 8, "median_days": 11.0, "p90_days": 30.6, "over_threshold": 3, "allocated": 0,
         "mean_days_to_allocation": None, "median_days_to_allocation": None},
        # The running week is counted today, 30 June: as the waits report.
        {"waiting": 9, "median_days": 11.0, "p90_days": 31.4, "over_threshold": 4, "allocated": 0,
         "mean_days_to_allocation": None, "median_days_to_allocation": None},
    ]


def test_monthly_trend_by_client_group_shows_every_group(huddle):  # noqa: F811
    rows = huddle.reports.trends(group_by=["client_group"], start="2026-05-01", end="2026-06-30", period="month")
    assert len(rows) == 2 * 7
    may = {r["client_group"]: r["waiting"] for r in rows if r["period_start"] == D("2026-05-01")}
    june = {r["client_group"]: r["waiting"] for r in rows if r["period_start"] == D("2026-06-01")}
    assert may == {"physical_support": 0, "sensory_support": 0, "memory_and_cognition": 0,
                   "learning_disability": 0, "mental_health": 1, "social_support": 0, "unknown": 0}
    assert june == {"physical_support": 1, "sensory_support": 1, "memory_and_cognition": 0,
                    "learning_disability": 4, "mental_health": 3, "social_support": 0, "unknown": 0}


def test_outcomes_and_flow_by_month(council, clock):
    engine = council
    clock.set(TODAY)
    # R-1 resolved at the front door on 1 June and came back on 20 June: a repeat contact.
    r1 = engine.record_contact("R-1", "mental_health", "north", occurred_at=at("06-01")).id
    engine.fire(r1, "resolve", outcome="information_and_advice", occurred_at=at("06-01", "11:00"))
    engine.record_contact("R-1", "mental_health", "north", occurred_at=at("06-20"))
    # R-2 resolved on 20 March, back on 25 June: 97 days later, not a repeat within 90 days.
    r2 = engine.record_contact("R-2", "unknown", "north", occurred_at=at("03-10")).id
    engine.fire(r2, "resolve", outcome="signposted", occurred_at=at("03-20"))
    # A note on R-2's closed episode on 20 June closes nothing: no closure in June, and the contact
    # of 25 June is still 97 days after the closure.
    engine.fire(r2, "note", note="letter sent", occurred_at=at("06-20"))
    engine.record_contact("R-2", "unknown", "north", occurred_at=at("06-25"))
    # R-3 met at conversation 1; R-4 needs conversation 3.
    r3 = contact(engine, "R-3", "learning_disability", on="06-02")
    engine.fire(r3, "allocate", worker="ben", occurred_at=at("06-04"))
    engine.fire(r3, "close", outcome="met_at_c1", occurred_at=at("06-10"))
    r4 = contact(engine, "R-4", "physical_support", on="06-03")
    engine.fire(r4, "allocate", worker="ben", occurred_at=at("06-05"))
    engine.fire(r4, "plan", occurred_at=at("06-08"))
    rows = engine.reports.outcomes(group_by=[], start="2026-03-01", end="2026-06-30")
    empty = {"contacts": 0, "resolved_at_contact": 0, "c1_started": 0, "crises": 0, "c3_started": 0, "closed": 0,
             "met_at_c1": 0, "repeat_contacts": 0, "share_resolved_at_contact": None, "share_met_at_c1": None,
             "share_needing_c3": None}
    assert rows == [
        {"month": "2026-03", **empty, "contacts": 1, "resolved_at_contact": 1, "closed": 1,
         "share_resolved_at_contact": 100.0, "share_met_at_c1": 0.0, "share_needing_c3": 0.0},
        {"month": "2026-04", **empty},
        {"month": "2026-05", **empty},
        # Five contacts; one in five (20.0 %) each resolved at contact, met at c1, needing c3.
        {"month": "2026-06", "contacts": 5, "resolved_at_contact": 1, "c1_started": 2, "crises": 0,
         "c3_started": 1, "closed": 2, "met_at_c1": 1, "repeat_contacts": 1, "share_resolved_at_contact": 20.0,
         "share_met_at_c1": 20.0, "share_needing_c3": 20.0},
    ]
    by_group = engine.reports.outcomes(group_by=["client_group"], start="2026-06-01", end="2026-06-30")
    assert {r["client_group"]: r["contacts"] for r in by_group} == {
        "physical_support": 1, "sensory_support": 0, "memory_and_cognition": 0, "learning_disability": 1,
        "mental_health": 2, "social_support": 0, "unknown": 1}
    with pytest.raises(ValidationError, match="not stage"):
        engine.reports.outcomes(group_by=["stage"])


def test_forecast_is_queue_length_over_recent_allocation_rate(huddle):  # noqa: F811
    rows = huddle.reports.forecast(group_by=["team", "stage"])
    assert rows == [
        # Six wait in north's c1 queue; two first allocations in the 28 days to today: 6 / (2 / 28) = 84 days.
        {"team": "north", "stage": "c1_waiting", "waiting": 6, "allocated_recently": 2, "per_day": 0.07,
         "expected_days": 84.0},
        # People wait and nobody was allocated lately: no forecast can be made.
        {"team": "north", "stage": "c2_waiting", "waiting": 1, "allocated_recently": 0, "per_day": 0.0,
         "expected_days": None},
        {"team": "north", "stage": "c3_waiting", "waiting": 1, "allocated_recently": 0, "per_day": 0.0,
         "expected_days": None},
        {"team": "south", "stage": "c1_waiting", "waiting": 1, "allocated_recently": 0, "per_day": 0.0,
         "expected_days": None},
        # An empty queue: a new contact waits for nobody.
        {"team": "south", "stage": "c2_waiting", "waiting": 0, "allocated_recently": 0, "per_day": 0.0,
         "expected_days": 0.0},
        {"team": "south", "stage": "c3_waiting", "waiting": 0, "allocated_recently": 0, "per_day": 0.0,
         "expected_days": 0.0},
    ]
    # On 10 June north's c1 queue held LD-1, MH-2 and MH-1, with one allocation in the 28 days before
    # (3 / (1 / 28) = 84 days); MH-1, whose wait began that day, was allocated 2 days later.
    result = huddle.reports.forecast_backtest(["2026-06-10"])
    assert result["pairs"] == [{"as_at": D("2026-06-10"), "team": "north", "stage": "c1_waiting",
                                "forecast_days": 84.0, "actual_days": 2.0, "allocated": 1}]
    assert result["mean_absolute_error_days"] == 82.0


def test_caseloads_per_worker_and_per_team(huddle):  # noqa: F811
    # Nobody is active: MH-1 was released and PS-1 moved on to c3_waiting, both without a worker.
    rows = huddle.reports.caseloads()
    assert [(r["worker"], r["team"], r["caseload"], r["cap"]) for r in rows] == [
        ("amira", "north", 0, 3), ("ben", "north", 0, 35), ("cara", "south", 0, 35)]
    assert huddle.reports.caseloads(by="team") == [
        {"team": "north", "workers": 2, "caseload": 0, "weight": 0.0, "capacity": 38, "over_cap": 0, "away": 0},
        {"team": "south", "workers": 1, "caseload": 0, "weight": 0.0, "capacity": 35, "over_cap": 0, "away": 0}]
    with pytest.raises(ValidationError, match="use 'worker' or 'team'"):
        huddle.reports.caseloads(by="desk")


def test_the_report_command(huddle, monkeypatch):  # noqa: F811
    import sys

    from pathway.cli import app

    # Every command opens its engine through pathway.cli.app.with_engine.
    monkeypatch.setattr(sys.modules["pathway.cli.app"], "get_engine", lambda *a, **k: _Borrowed(huddle))
    runner = CliRunner()
    out = runner.invoke(app, ["report", "waits", "--by", "team", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == huddle.reports.waits(group_by=["team"])
    out = runner.invoke(app, ["report", "allocation", "--by", "client_group", "--from", "2026-06-01",
                              "--to", "2026-06-30", "--format", "csv"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert table[0] == {"client_group": "physical_support", "allocated": "1", "mean_days": "3.0",
                        "median_days": "3.0", "p90_days": "3.0", "self_allocated": "0", "manager_allocated": "1"}
    out = runner.invoke(app, ["report", "waits", "--by", "client_group", "--as-at", "2026-06-15", "--days",
                              "working", "--client-group", "mental_health"])
    assert out.exit_code == 0, out.output
    assert "mental_health" in out.stdout and "Waits" in out.stdout
    for args in (["report", "trends", "--period", "month", "--from", "2026-06-01"],
                 ["report", "outcomes", "--from", "2026-06-01"], ["report", "caseloads", "--by", "team"],
                 ["report", "forecast", "--as-at", "2026-06-20"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, (args, out.output)
    out = runner.invoke(app, ["report", "waits", "--by", "colour"])
    assert out.exit_code == 1
    assert "unknown grouping 'colour'" in out.output
    out = runner.invoke(app, ["report", "allocation", "--from", "2026-06-30", "--to", "2026-06-01"])
    assert out.exit_code == 1


class _Borrowed:
    """The test's engine, lent to the command without being disposed by it."""

    def __init__(self, engine):
        self.reports = engine.reports

    def dispose(self):
        pass
