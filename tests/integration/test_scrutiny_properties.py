"""Property: the Three Conversations measures, days to the first conversation held and conversations
held by mode equal a plain-Python computation from the raw event log, for random small councils,
on SQLite and PostgreSQL. The reference reads only ``event`` rows and each episode's team, route and
person, and shares no code with the SQL it checks."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from test_reports_properties import FIRST, NOW, TEAMS, clear, log, one_decimal

from pathway.domain import days
from pathway.domain.scrutiny import wilson
from pathway.errors import PathwayError
from pathway.settings import Cohort, Scrutiny, Settings

MODES = ["phone", "video", "home_visit", "community_venue"]
MOVES = ["refer"] * 2 + ["allocate"] * 2 + ["held"] * 4 + ["crisis", "crisis_keep", "stabilise", "stabilise_c3",
                                                           "plan", "close", "resolve", "release"]
episode_plan = st.tuples(
    st.sampled_from(["learning_disability", "mental_health"]), st.sampled_from(sorted(TEAMS)),
    st.sampled_from([None, "NE1", "SW2"]), st.integers(0, 5),  # person
    st.integers(0, 80), st.integers(0, 23),
    st.lists(st.tuples(st.sampled_from(MOVES), st.integers(0, 9), st.integers(0, 23), st.sampled_from(MODES),
                       st.sampled_from(["met_at_c1", "long_term_support", "information_and_advice"])),
             max_size=8),
)
COHORT = Cohort(teams=("north",), routes=("NE1",))


@pytest.fixture
def settings():
    return Settings(_env_file=None, scrutiny=Scrutiny(cohorts={"site": COHORT}))


def build(engine, plan) -> None:
    for key, workers in TEAMS.items():
        engine.create_team(key, key.title())
        for w in workers:
            engine.create_worker(w, w.title(), key)
    for group, team, route, person, day, hour, moves in plan:
        when = dt.datetime.combine(FIRST + dt.timedelta(days=day), dt.time(hour), tzinfo=dt.UTC)
        if when > NOW:
            continue
        ep = engine.record_contact(f"P-{person}", group, team, occurred_at=when, route=route).id
        for move, gap, move_hour, mode, outcome in moves:
            when = dt.datetime.combine(days.london_date(when) + dt.timedelta(days=gap), dt.time(move_hour),
                                       tzinfo=dt.UTC)
            when = max(when, engine.get(ep).stage_at)
            if when > NOW:
                break
            try:
                if move == "held":
                    engine.record_conversation(ep, "held", mode=mode, minutes=10 + gap, occurred_at=when)
                    continue
                kw = {"occurred_at": when}
                if move == "allocate":
                    kw["worker"] = TEAMS[team][gap % len(TEAMS[team])]
                elif move in ("close", "resolve"):
                    kw["outcome"] = outcome
                elif move == "crisis_keep":
                    move, kw["keep_worker"] = "crisis", True
                elif move == "stabilise_c3":
                    move, kw["to"] = "stabilise", "c3"
                engine.fire(ep, move, **kw)
            except PathwayError:
                pass  # not allowed from here: nothing was written


def part(stage):
    return stage[:2] if stage and stage[:2] in ("c1", "c2", "c3") else None


def expected(events, episodes, start, end, repeat_days=90):
    by_episode = defaultdict(list)
    for e in events:
        by_episode[e["episode_id"]].append(e)
    closes = defaultdict(list)  # person -> closure events
    lts = defaultdict(list)
    for e in events:
        person = episodes[e["episode_id"]].person_ref
        if e["to_stage"] == "closed":
            closes[person].append(e)
            if e["outcome"] == "long_term_support":
                lts[person].append(e)

    def cohort(episode_id):
        ep = episodes[episode_id]
        return "site" if ep.team in COHORT.teams or ep.route in COHORT.routes else "rest"

    out = {c: defaultdict(int) for c in ("site", "rest")}
    for e in events:
        if e["trigger"] != "record_contact" or not start <= e["occurred_on"] <= end:
            continue
        log_ = by_episode[e["episode_id"]]
        o = out[cohort(e["episode_id"])]
        o["contacts"] += 1
        o["resolved_at_contact"] += any(x["trigger"] == "resolve" for x in log_)
        o["met_at_c1"] += any(x["to_stage"] == "closed" and x["outcome"] == "met_at_c1" for x in log_)
        o["needing_c2"] += any(x["to_stage"].startswith("c2") for x in log_)
        o["going_to_c3"] += any(x["to_stage"].startswith("c3") for x in log_)
        o["long_term_support"] += any(x["to_stage"] == "closed" and x["outcome"] == "long_term_support"
                                      for x in log_)
        person = episodes[e["episode_id"]].person_ref
        o["repeat_contacts"] += any(c["episode_id"] != e["episode_id"] and c["occurred_at"] < e["occurred_at"]
                                    and (e["occurred_on"] - c["occurred_on"]).days <= repeat_days
                                    for c in closes[person])
    for closures in lts.values():
        for c in closures:
            if start <= c["occurred_on"] <= end and not any(
                    (o_["occurred_at"], o_["id"]) < (c["occurred_at"], c["id"]) for o_ in closures):
                out[cohort(c["episode_id"])]["new_long_term_support"] += 1
    firsts = defaultdict(list)  # (cohort or conversation, client group) -> days
    held_by_mode = defaultdict(lambda: [0, 0])
    for e in events:
        if e["trigger"] != "conversation" or e["data"].get("status") != "held" or not start <= e["occurred_on"] <= end:
            continue
        held_by_mode[e["data"]["mode"]][0] += 1
        held_by_mode[e["data"]["mode"]][1] += e["data"]["minutes"]
        conv = part(e["from_stage"])
        if conv is None:
            continue
        earlier = [x for x in by_episode[e["episode_id"]] if x["seq"] < e["seq"] and x["trigger"] == "conversation"
                   and x["data"].get("status") == "held" and x["wait_from"] == e["wait_from"]
                   and part(x["from_stage"]) == conv]
        if not earlier:
            d = (e["occurred_on"] - e["wait_from_on"]).days
            firsts[(conv, episodes[e["episode_id"]].client_group)].append(d)
            if conv == "c1":
                firsts[("cohort", cohort(e["episode_id"]))].append(d)
    return out, firsts, held_by_mode


@examples(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(plan=st.lists(episode_plan, min_size=1, max_size=10), span=st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_scrutiny_measures_equal_a_plain_computation_from_the_event_log(engine, clock, plan, span):
    clock.set(NOW)
    clear(engine)
    build(engine, plan)
    events, episodes = log(engine)
    start = FIRST + dt.timedelta(days=span[0])
    end = min(start + dt.timedelta(days=span[1]), NOW.date())
    want, firsts, held = expected(events, episodes, start, end)

    rows = engine.reports.three_conversations(start=start, end=end, by="period", cohort="site")
    assert [r["cohort"] for r in rows] == ["site", "rest"]
    for row in rows:
        w = want[row["cohort"]]
        n = w["contacts"]
        assert row["contacts"] == n
        for name in ("resolved_at_contact", "met_at_c1", "needing_c2", "going_to_c3", "long_term_support",
                     "repeat_contacts"):
            assert row[name] == w[name], name
            assert row[f"{name}_pct"] == (one_decimal(100 * w[name] / n) if n else None), name
            assert (row[f"{name}_low"], row[f"{name}_high"]) == (wilson(w[name], n) or (None, None)), name
        assert row["new_long_term_support"] == w["new_long_term_support"]
        values = firsts.get(("cohort", row["cohort"]), [])
        assert row["first_conversations_held"] == len(values)
        assert row["median_days_to_first_conversation"] == (one_decimal(statistics.median(values)) if values else None)

    rows = engine.reports.first_conversation(start=start, end=end)
    for row in rows:
        values = firsts.pop((row["conversation"], row["client_group"]), [])
        assert (row["people"], row["median_days"]) == (
            len(values), one_decimal(statistics.median(values)) if values else None), row
    assert not any(k[0] != "cohort" for k in firsts)

    rows = engine.reports.conversations(start=start, end=end, by="period")
    assert {r["mode"]: [r["held"], r["minutes"]] for r in rows} == {m: held.get(m, [0, 0]) for m in MODES}
