"""The scrutiny panel over HTTP: its reports and the pack, conversations, audits and welfare checks, with
each role's rights; and the pack's figures are the report functions' own."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from api_support import assert_error, count, make_api

from pathway.services import pack as packs
from pathway.services.auth import create_token
from pathway.settings import Cohort, Scrutiny, Settings


@pytest.fixture
def settings():
    return Settings(_env_file=None, scrutiny=Scrutiny(cohorts={"site": Cohort(teams=("north",))}))


@pytest.fixture
def api(council, clock):
    api = make_api(council)
    api.tokens["auditor"] = create_token(council, "auditor", name="audit-lead")[0]
    clock.set("2026-05-01T09:00:00+00:00")
    one = api.waiting("LAS-1", client_group="mental_health")
    api.waiting("LAS-2", client_group="learning_disability")
    three = api.waiting("LAS-3", client_group="unknown", team="south")
    clock.set("2026-05-04T09:00:00+00:00")
    api.fire(one["id"], "allocate", worker="amira")
    api.fire(three["id"], "allocate", worker="cara")
    clock.set("2026-05-20T12:00:00+00:00")
    api.ids = (one["id"], three["id"])
    return api


def test_a_conversation_over_http(api):
    one, three = api.ids
    r = api.post(f"/episodes/{one}/conversations", "amira",
                 json={"status": "held", "mode": "home_visit", "minutes": 50, "occurred_at": "2026-05-06"})
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.headers["ETag"]) == ("c1_active", '"4"')
    events = api.get(f"/episodes/{one}/events", "amira").json()
    assert [e["trigger"] for e in events][-1] == "conversation" and events[-1]["actor"] == api.actors["amira"]
    assert_error(api.post(f"/episodes/{one}/conversations", "amira", json={"status": "held", "mode": "fax"}),
                 422, "validation_error", "modes are")
    # Another team's episode is not there to a duty worker: 404, as for a missing one.
    assert_error(api.post(f"/episodes/{three}/conversations", "amira", json={"status": "held", "mode": "phone"}),
                 404, "not_found")
    assert_error(api.post("/episodes/999/conversations", "integration", json={"status": "held", "mode": "phone"}),
                 404, "not_found")
    assert len(api.get(f"/episodes/{one}/events", "amira").json()) == len(events)
    rows = api.get("/reports/conversations", "manager", params={"from": "2026-05-01", "to": "2026-05-31"}).json()
    assert [(r["mode"], r["held"], r["minutes"]) for r in rows if r["held"]] == [("home_visit", 1, 50)]
    rows = api.get("/reports/first_conversation", "integration",
                   params={"from": "2026-05-01", "to": "2026-05-31"}).json()
    assert [(r["conversation"], r["client_group"], r["people"], r["median_days"]) for r in rows if r["people"]] == \
        [("c1", "mental_health", 1, 5.0)]


def test_a_conversation_is_an_event_of_the_episode_over_either_route(api):
    """POST /episodes/{id}/events with trigger conversation and POST /episodes/{id}/conversations are one write:
    the same event, the same refusals, idempotency keys and If-Match."""
    one, _ = api.ids
    body = {"status": "booked", "mode": "video", "at": "2026-05-22T10:00:00+01:00", "occurred_at": "2026-05-07"}
    by_events = api.post(f"/episodes/{one}/events", "integration", json={"trigger": "conversation", **body},
                         headers={"Idempotency-Key": "talk-1"})
    assert by_events.status_code == 200, by_events.text
    by_route = api.post(f"/episodes/{one}/conversations", "integration", json=body, headers={"If-Match": '"4"'})
    assert by_route.status_code == 200, by_route.text
    assert (by_events.headers["ETag"], by_route.headers["ETag"]) == ('"4"', '"5"')
    log = api.get(f"/episodes/{one}/events", "integration").json()
    assert [{k: e[k] for k in ("trigger", "from_stage", "to_stage", "occurred_at", "data")} for e in log[-2:]] == [
        {"trigger": "conversation", "from_stage": "c1_active", "to_stage": "c1_active",
         "occurred_at": "2026-05-06T23:00:00Z",
         "data": {"status": "booked", "mode": "video", "at": "2026-05-22T09:00:00+00:00"}}] * 2  # stored in UTC
    # A retry with the key is the first reply; a stale If-Match is 412; nothing more is written.
    again = api.post(f"/episodes/{one}/events", "integration", json={"trigger": "conversation", **body},
                     headers={"Idempotency-Key": "talk-1"})
    assert (again.status_code, again.headers["ETag"]) == (200, '"4"')
    assert_error(api.post(f"/episodes/{one}/conversations", "integration", json=body, headers={"If-Match": '"4"'}),
                 412, "stale_version")
    # The same refusal, word for word, by either route.
    for bad, words in (({"status": "held", "mode": "phone", "minutes": 0}, "minutes must be a whole number"),
                       ({"status": "held", "mode": "phone", "occurred_at": "2026-06-01"}, "in the future"),
                       ({"status": "booked", "mode": "phone", "at": "2026-04-01"}, "before the episode's contact")):
        a = assert_error(api.post(f"/episodes/{one}/events", "integration", json={"trigger": "conversation", **bad}),
                         422, "validation_error", words)
        b = assert_error(api.post(f"/episodes/{one}/conversations", "integration", json=bad), 422,
                         "validation_error", words)
        assert a == b
    # The route's own body: a status, and the conversation's fields only.
    assert_error(api.post(f"/episodes/{one}/conversations", "integration", json={"mode": "phone"}), 422,
                 "validation_error", "status")
    assert_error(api.post(f"/episodes/{one}/conversations", "integration", json={"status": "held", "mode": "phone",
                                                                                  "reason": "x"}),
                 422, "validation_error", "reason")
    assert len(api.get(f"/episodes/{one}/events", "integration").json()) == len(log)
    api.fire(one, "close", outcome="met_at_c1")
    closed = assert_error(api.post(f"/episodes/{one}/conversations", "integration",
                                   json={"status": "held", "mode": "phone"}), 409, "invalid_transition")
    assert (closed["stage"], closed["allowed"]) == ("closed", ["note"])


def test_the_three_conversations_report_over_http(api):
    rows = api.get("/reports/three_conversations", "integration",
                   params={"from": "2026-05-01", "to": "2026-05-31", "by": "period", "cohort": "site"}).json()
    assert [(r["cohort"], r["contacts"]) for r in rows] == [("site", 2), ("rest", 1)]
    assert api.engine.reports.three_conversations(start="2026-05-01", end="2026-05-31", by="period",
                                                  cohort="site")[0]["contacts"] == 2
    mine = api.get("/reports/three_conversations", "manager_south",
                   params={"from": "2026-05-01", "to": "2026-05-31", "by": "period"}).json()
    assert [(r["cohort"], r["contacts"]) for r in mine] == [("all", 1)]  # a manager's own team
    assert_error(api.get("/reports/three_conversations", "integration", params={"cohort": "east"}), 422,
                 "validation_error", "unknown cohort 'east'")
    assert_error(api.get("/reports/three_conversations", "integration", params={"by": "fortnight"}), 422,
                 "validation_error", "week, month, period")
    assert_error(api.get("/reports/three_conversations", "amira"), 403, "forbidden")


def test_audits_over_http(api):
    body = {"from": "2026-05-01", "to": "2026-05-31", "rate": 0.5, "seed": 3, "stratify": ["team"]}
    assert_error(api.post("/audits/samples", "auditor", json={**body, "rate": 0}), 422, "validation_error",
                 "outside (0, 1]")
    assert_error(api.post("/audits/samples", "amira", json=body), 403, "forbidden")
    assert count(api.engine, "audit_sample") == 0
    r = api.post("/audits/samples", "auditor", json=body)
    assert r.status_code == 200, r.text
    drawn = r.json()
    assert (drawn["population"], drawn["sampled"]) == (3, 2)  # north 2 → 1, south 1 → 1
    # The same draw again; a manager sees their own team's part of it, never another team's people.
    again = api.post("/audits/samples", "manager", json=body).json()
    assert again["episodes"] == [e for e in drawn["episodes"] if e["team"] == "north"]
    assert [e["team"] for e in api.post("/audits/samples", "manager_south", json=body).json()["episodes"]] == ["south"]
    assert count(api.engine, "audit_sample") == 1
    north = next(e["episode_id"] for e in drawn["episodes"] if e["team"] == "north")
    south = next(e["episode_id"] for e in drawn["episodes"] if e["team"] == "south")
    assert_error(api.post("/audits", "manager", json={"episode_id": south, "rating": "good"}), 403, "forbidden")
    assert_error(api.post("/audits", "auditor", json={"episode_id": north, "rating": "great"}), 422,
                 "validation_error", "ratings are")
    r = api.post("/audits", "manager", json={"episode_id": north, "rating": "good", "themes": ["carers"]})
    assert r.status_code == 201, r.text
    assert (r.json()["auditor"], r.json()["in_sample"]) == (api.actors["manager"], True)
    r = api.post("/audits", "auditor", json={"episode_id": south, "rating": "requires_improvement"})
    assert r.status_code == 201, r.text
    rows = api.get("/reports/audits", "auditor", params={"from": "2026-04-01", "to": "2026-06-30",
                                                         "by": "council"}).json()
    assert [(r["quarter"], r["sampled"], r["audited"], r["served"], r["good_or_better_pct"]) for r in rows] == \
        [("2026-Q2", 2, 2, 3, 50.0)]
    assert_error(api.get("/reports/three_conversations", "auditor"), 403, "forbidden")


def test_outreach_over_http(api):
    csv_ok = "person_ref,team,when,outcome\nLAS-1,north,2026-05-10,spoken\nW-1,south,2026-05-11,no_answer\n"
    r = api.post("/outreach", "integration", content=csv_ok, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "on_open_episode": 1, "resolved_contacts": 1, "follow_up_contacts": 0,
                        "unchanged": 0}
    events = count(api.engine, "event")
    bad = "person_ref,team,when,outcome\nW-2,north,2026-05-10,spoken\nW-3,north,2026-05-11,maybe\nW 4,x,y,z\n"
    r = api.post("/outreach", "integration", content=bad, headers={"Content-Type": "text/csv"})
    body = assert_error(r, 422, "validation_error", "nothing was written")
    assert [e["line"] for e in body["errors"]] == [3, 4]
    assert count(api.engine, "event") == events
    assert_error(api.post("/outreach", "amira", content=csv_ok), 403, "forbidden")
    rows = api.get("/reports/welfare_checks", "integration", params={"from": "2026-05-04", "to": "2026-05-17",
                                                                     "by": "period"}).json()
    assert {r["outcome"]: r["checks"] for r in rows} == {"spoken": 1, "no_answer": 1, "needs_follow_up": 0}


class Tables(HTMLParser):
    """The pack's tables: (section, report) -> rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, str, list[list[str]]]] = []
        self.cell: list[str] | None = None
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append((a["data-section"], a["data-report"], []))
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.tables[-1][2].append([])
        elif tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td":
            self.tables[-1][2][-1].append("".join(self.cell))
            self.cell = None
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def text(value) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def test_the_pack_prints_the_reports_own_figures(api):
    one, _ = api.ids
    api.post(f"/episodes/{one}/conversations", "amira", json={"status": "held", "mode": "phone", "minutes": 20})
    r = api.get("/reports/pack", "manager", params={"from": "2026-01-01", "to": "2026-05-20"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    document = r.text
    assert "<script" not in document and "http://" not in document.replace("http://www.w3.org/2000/svg", "")
    assert "team north" in document and "Data as at 20 May 2026 13:00 (London)" in document
    assert document.count("<svg") == 8
    reports = api.engine.reports
    gathered = packs.gather(reports, "2026-01-01", "2026-05-20", team="north")
    # The gathered figures are the report functions' own ...
    assert gathered["sections"]["three_conversations"]["three_conversations"] == reports.three_conversations(
        start="2026-01-01", end="2026-05-20", by="period", cohort="site", team="north")
    assert gathered["sections"]["days_to_allocation"]["trends"] == reports.trends(
        group_by=[], start="2026-01-01", end="2026-05-20", period="month", team="north", stage="c1_waiting")
    assert gathered["sections"]["audits"]["audits"] == reports.audits(start="2026-01-01", end="2026-05-20",
                                                                      team="north")
    # ... and every table of the document prints them.
    parser = Tables()
    parser.feed(document)
    sections = packs._sections(gathered)
    printed = [(s.key, report, columns, rows) for s in sections for report, columns, rows in s.tables]
    assert len(parser.tables) == len(printed)
    for (section, report, cells), (key, name, columns, rows) in zip(parser.tables, printed, strict=True):
        assert (section, report) == (key, name)
        if rows:
            assert cells == [[text(row[c]) for c in columns] for row in rows], (section, report)
    # The rates one per line: each the report row's own count, denominator, share and interval.
    report = {r["cohort"]: r for r in gathered["sections"]["three_conversations"]["three_conversations"]}
    lines = next(t for t in parser.tables if t[1] == "three_conversations")[2]
    assert len(lines) == 6 * 2
    for measure, (name, label) in zip(lines[::2], packs.RATE_LABELS.items(), strict=True):
        r = report["site"]
        assert measure == [label, "site", text(r[name]), text(r["contacts"]), text(r[f"{name}_pct"]),
                           text(r[f"{name}_low"]), text(r[f"{name}_high"])]
    assert lines[0][:4] == ["resolved at contact", "site", "0", "2"]
    # Conversations held per month and mode: the report's counts, one line per month.
    held = next(t for t in parser.tables if t[1] == "conversations")[2]
    may = next(line for line in held if line[0] == "2026-05")
    by_mode = {r["mode"]: r["held"] for r in gathered["sections"]["conversations"]["conversations"]
               if str(r["period_start"]) == "2026-05-01"}
    assert may[1:5] == [str(by_mode[m]) for m in ("phone", "video", "home_visit", "community_venue")] \
        == ["1", "0", "0", "0"]
    assert_error(api.get("/reports/pack", "manager", params={"team": "south"}), 403, "forbidden")
    assert_error(api.get("/reports/pack", "manager", params={"from": "2027-01-01", "to": "2027-02-01"}), 422,
                 "validation_error", "in the future")
    assert re.search(r"Period 01 January 2026 to 20 May 2026", document)
    assert dt.date(2026, 5, 20) == gathered["to"]


def test_a_manager_records_welfare_checks_of_their_own_team_only(api):
    before = count(api.engine, "event")
    mixed = "person_ref,team,when,outcome\nLAS-7,north,2026-05-10,spoken\nW-7,south,2026-05-11,no_answer\n"
    assert_error(api.post("/outreach", "manager", content=mixed, headers={"Content-Type": "text/csv"}),
                 403, "forbidden", "line 3", "own team")
    assert count(api.engine, "event") == before
    own = "person_ref,team,when,outcome\nLAS-7,north,2026-05-10,spoken\n"
    assert api.post("/outreach", "manager", content=own, headers={"Content-Type": "text/csv"}).status_code == 200
