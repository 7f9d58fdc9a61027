"""The client-level data return: a synthetic council's history in, its completed events out, counted three ways."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import Counter

import pytest
from typer.testing import CliRunner

from pathway import ValidationError
from pathway.services.cld import COLUMNS, DEFAULTS, CldMapping, to_csv

GROUPS = ("physical_support", "learning_disability", "mental_health", "memory_and_cognition")
Q1 = ("2026-01-01", "2026-03-31")
JAN1 = dt.date(2026, 1, 1)

# Each path: the moves after the contact, as (trigger, days after the previous move, extra fields).
PATHS = [
    [("resolve", 0, {"outcome": "information_and_advice"})],
    [("resolve", 1, {"outcome": "signposted"})],
    [("refer", 1, {}), ("allocate", 9, {"worker": "ben"}), ("close", 12, {"outcome": "met_at_c1"})],
    [("refer", 0, {}), ("allocate", 20, {"worker": "amira"}), ("plan", 10, {}), ("allocate", 15, {"worker": "ben"}),
     ("close", 30, {"outcome": "long_term_support"})],
    [("refer", 2, {}), ("allocate", 5, {"worker": "ben"}), ("crisis", 3, {"keep_worker": "yes"}),
     ("stabilise", 4, {}), ("close", 6, {"outcome": "crisis_resolved"})],
    [("refer", 1, {}), ("close", 8, {"outcome": "declined"})],
    [("refer", 1, {})],  # still waiting
]


def synthetic_council(n=240, seed=3):
    """A council's history as import rows, spread over the first half of 2026."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        at = dt.datetime(2025, 12, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=rnd.randint(0, 170),
                                                                        hours=rnd.randint(0, 6))
        ref = f"S{i:04d}"
        rows.append(dict(episode_ref=ref, seq=1, person_ref=f"P{i:04d}", client_group=rnd.choice(GROUPS),
                         team="north", trigger="record_contact", occurred_at=at.isoformat(),
                         route=rnd.choice(["hospital", "gp", ""])))
        for seq, (trigger, later, extra) in enumerate(rnd.choice(PATHS), start=2):
            at += dt.timedelta(days=later, hours=1)
            rows.append(dict(episode_ref=ref, seq=seq, trigger=trigger, occurred_at=at.isoformat(), **extra))
    return rows


def expected_events(rows, start: dt.date, end: dt.date):
    """The same figures computed straight from the rows, without the database: (type, outcome, group) counts."""
    out = Counter()
    episodes: dict[str, list[dict]] = {}
    for r in rows:
        episodes.setdefault(r["episode_ref"], []).append(r)
    part_of = {"refer": "c1", "plan": "c3", "crisis": "c2", "resolve": "closed", "close": "closed"}
    outcome = dict(DEFAULTS["event_outcomes"])
    for evs in episodes.values():
        group = evs[0]["client_group"]
        part = "contact"
        for e in evs[1:]:
            to = "c1" if e["trigger"] == "stabilise" else part_of.get(e["trigger"], part)
            if to == part:
                continue
            day = dt.datetime.fromisoformat(e["occurred_at"]).date()  # UTC 10:00-16:00: the London date too
            kind = {"contact": "Request", "c1": "Assessment", "c3": "Assessment"}.get(part)
            if kind and start <= day <= end:
                result = outcome[e["outcome"]] if to == "closed" else DEFAULTS["next_step_outcomes"][to]
                out[(kind, result, group)] += 1
            part = to
    return out


@pytest.fixture
def imported(council, clock):
    clock.set("2026-09-01T09:00:00")
    rows = synthetic_council()
    council.import_history(rows)
    return council, rows


def test_the_export_matches_an_independent_count_and_the_outcomes_report(imported):
    engine, rows = imported
    exported = engine.export_cld(*Q1)
    assert exported and all(list(r) == list(COLUMNS) for r in exported)
    got = Counter((r["Event_Type"], r["Event_Outcome"], r["Primary_Support_Reason"]) for r in exported)
    psr = DEFAULTS["primary_support_reasons"]
    want = Counter({(k, o, psr[g]): n for (k, o, g), n in expected_events(rows, JAN1, dt.date(2026, 3, 31)).items()})
    assert got == want
    # The engine's own outcome report, month by month, for the same quarter and client groups.
    report = engine.reports.outcomes(group_by=["client_group"], start=Q1[0], end=Q1[1])
    for group in GROUPS:
        months = [m for m in report if m["client_group"] == group]
        mine = [r for r in exported if r["Primary_Support_Reason"] == psr[group]]
        requests = [r for r in mine if r["Event_Type"] == "Request"]
        assert len(requests) == sum(m["resolved_at_contact"] + m["c1_started"] for m in months)
        assert sum(r["Event_Outcome"] == "Progress to Assessment" for r in requests) == sum(
            m["c1_started"] for m in months)
        met = [r for r in mine if r["Event_Type"] == "Assessment" and r["Event_Description"].startswith("Initial")
               and r["Event_Outcome"] == "NFA - Information & Advice / Signposting only"]
        assert len(met) == sum(m["met_at_c1"] for m in months)


def test_only_completed_events_in_the_period_and_their_dates(imported):
    engine, rows = imported
    for r in engine.export_cld(*Q1):
        assert Q1[0] <= r["Event_End_Date"] <= Q1[1]
        assert r["Event_Start_Date"] <= r["Event_End_Date"]
        assert (r["Reporting_Period_Start_Date"], r["Reporting_Period_End_Date"]) == Q1
        assert (r["Request_Route_of_Access"] != "") == (r["Event_Type"] == "Request")
    waiting = {r["episode_ref"] for r in rows if r["trigger"] == "refer"} - {
        r["episode_ref"] for r in rows if r["trigger"] in ("allocate", "close")}
    assert waiting  # a referral still waiting has a completed request but no completed assessment
    assert engine.export_cld("2030-01-01", "2030-03-31") == []


def test_the_initial_conversation_as_the_first_contact(imported, tmp_path):
    engine, rows = imported
    mapping = tmp_path / "cld.toml"
    mapping.write_text('[event_types]\nc1 = "Request"\n[return]\nla_code = "999"\ndate_format = "%d/%m/%Y"\n')
    default = engine.export_cld(*Q1)
    merged = engine.export_cld(*Q1, mapping=mapping)
    assert {r["LA_Code"] for r in merged} == {"999"}
    # With c1 as a request, a referral does not complete a request at the contact; conversation 1's end does.
    assert not [r for r in merged if r["Event_Outcome"] == "Progress to Assessment"]
    c1_default = [r for r in default if r["Event_Description"].startswith("Initial")]
    c1_merged = [r for r in merged if r["Event_Description"].startswith("Initial")]
    assert len(c1_merged) == len(c1_default)
    for r in c1_merged:
        episode = int(r["Event_Reference"].split("-")[0])
        if r["Event_Type"] == "Request":  # starts at the contact itself
            assert r["Event_Start_Date"] == engine.get(episode).contact_at.strftime("%d/%m/%Y")
        else:  # conversation 1 again after a crisis is not a new request
            assert r["Event_Type"] == "Assessment"
            assert "stabilise" in [h["trigger"] for h in engine.history(episode)]
    assert Counter(r["Event_Type"] for r in c1_merged)["Request"] > 10


def test_a_bad_mapping_or_period_is_refused(engine, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[event_types]\nc3 = "Service"\n')
    with pytest.raises(ValidationError, match="types are Request, Assessment, Review"):
        engine.export_cld(*Q1, mapping=bad)
    with pytest.raises(ValidationError, match="ends .* before it starts"):
        engine.export_cld("2026-03-31", "2026-01-01")


def test_the_config_file_spells_out_the_defaults():
    assert CldMapping.load("config/cld-mapping.toml").tables == CldMapping.default().tables


def test_the_export_command_writes_the_csv(imported, tmp_path, monkeypatch, db_url):
    from pathway.cli import app

    engine, _ = imported
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    out = tmp_path / "cld.csv"
    result = CliRunner().invoke(app, ["export", "cld", "--from", Q1[0], "--to", Q1[1], "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert written == [dict(r) for r in engine.export_cld(*Q1)]
    assert to_csv([]).strip() == ",".join(COLUMNS)
