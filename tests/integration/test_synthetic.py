"""The synthetic council behaves like a council: reproducible, every path of the pathway, the groups' waits."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import statistics
from collections import Counter, defaultdict

import pytest

from pathway.domain.episode import Fact, apply, start
from pathway.domain.stages import STAGES, TRANSITIONS
from pathway.services.synthetic import FIELDS, SIZES, Council, Simulation, demo_council, rows, season
from pathway.settings import CLIENT_GROUPS, OUTCOMES, Settings
from pathway.store.tables import EPISODE

SMALL = SIZES["small"]


def fact(e: dict) -> Fact:
    data = {"keep_worker": True} if e["keep_worker"] else {}
    if e["to"]:
        data["to"] = e["to"]
    if e["trigger"] == "record_contact":
        data = {k: e[k] for k in ("person_ref", "client_group", "team", "priority", "route")}
    return Fact(e["trigger"], e["occurred_at"], worker=e["worker"], outcome=e["outcome"], data=data)


@pytest.fixture(scope="module")
def small():
    """The small council folded through the pathway's own rules: every move must be one the table allows."""
    episodes, paths, first_waits = [], Counter(), defaultdict(list)
    for events in Simulation(SMALL).episodes():
        state = start(None, fact(events[0]))
        for e in events[1:]:
            before, state = state, apply(state, fact(e))
            label = e["trigger"] + ("+keep" if e["keep_worker"] else "") + (f"->{e['to']}" if e["to"] else "")
            paths[(before.stage, label, state.stage)] += 1
            if e["trigger"] == "allocate" and before.stage == "c1_waiting" and before.allocated_at is None:
                first_waits[e["client_group"]].append((state.allocated_at - state.wait_from).days)
        episodes.append((events, state))
    return {"episodes": episodes, "paths": paths, "waits": first_waits}


def table_paths() -> set[tuple[str, str, str]]:
    """Every (from, trigger, to) the pathway table allows, with crisis kept/not and stabilise to c1/c3."""
    out = set()
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        label = t["trigger"]
        if t.get("conditions") == "keeps_worker":
            label += "+keep"
        if t["trigger"] == "stabilise":
            label += "->c3" if t.get("conditions") == "needs_long_term" else "->c1"
        for s in sources:
            out.add((s, label, t["dest"]))
    return out


def test_same_seed_same_council_other_seed_another():
    first = list(itertools.islice(rows(SMALL), 500))
    assert first == list(itertools.islice(rows(SMALL), 500))
    other = Council(**{**SMALL.__dict__, "seed": 8})
    assert first != list(itertools.islice(rows(other), 500))


def test_rows_carry_the_vocabulary_and_synthetic_refs_only(small):
    for events, _ in small["episodes"][:300]:
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["trigger"] == "record_contact"
        for e in events:
            assert tuple(e) == FIELDS
            assert re.fullmatch(r"P-\d{6}", e["person_ref"]) and re.fullmatch(r"E-\d{7}", e["episode_ref"])
            assert e["client_group"] in CLIENT_GROUPS
            assert e["outcome"] is None or e["outcome"] in OUTCOMES
            assert e["occurred_at"].tzinfo is not None
        times = [e["occurred_at"] for e in events]
        assert times == sorted(times) and len(set(times)) == len(times)


def test_every_path_of_the_pathway_occurs(small):
    missing = table_paths() - set(small["paths"])
    assert not missing, f"paths never taken: {sorted(missing)}"
    assert {state.stage for _, state in small["episodes"]} <= set(STAGES)


def test_a_few_thousand_episodes_mostly_resolved_at_contact_or_c1(small):
    n = len(small["episodes"])
    assert 2000 <= n <= 5000
    outcomes = Counter(state.outcome for _, state in small["episodes"] if state.stage == "closed")
    resolved_at_contact = sum(outcomes[o] for o in ("information_and_advice", "signposted", "welfare_check_done"))
    assert 0.35 <= resolved_at_contact / n <= 0.5
    assert outcomes["met_at_c1"] > outcomes["long_term_support"] > 0
    assert outcomes["crisis_resolved"] > 0
    assert set(outcomes) == set(OUTCOMES), "every outcome occurs"


def test_client_group_mix_follows_the_national_order(small):
    mix = Counter(events[0]["client_group"] for events, _ in small["episodes"])
    order = [g for g, _ in mix.most_common()]
    assert order[0] == "physical_support"
    assert order.index("memory_and_cognition") < order.index("learning_disability")
    assert order.index("mental_health") < order.index("sensory_support")
    assert mix["unknown"] > 0


def test_learning_disability_and_mental_health_wait_longer(small):
    median = {g: statistics.median(w) for g, w in small["waits"].items()}
    others = [median[g] for g in median if g not in ("learning_disability", "mental_health")]
    assert median["learning_disability"] > max(others)
    assert median["mental_health"] > max(others)


def test_contacts_arrive_on_weekdays_and_more_in_winter():
    council = Council("year", dt.date(2025, 1, 1), 365, 20.0, 2, seed=3)
    per_day: Counter = Counter()
    for e in Simulation(council).events():
        if e["trigger"] == "record_contact":
            per_day[e["occurred_at"].date()] += 1
    weekday = [per_day[d] for d in per_day if d.weekday() < 5]
    weekend = [per_day[d] for d in per_day if d.weekday() >= 5]
    assert sum(weekend) > 0 and statistics.mean(weekend) < 0.2 * statistics.mean(weekday)
    winter = [n for d, n in per_day.items() if d.month in (12, 1, 2) and d.weekday() < 5]
    summer = [n for d, n in per_day.items() if d.month in (6, 7, 8) and d.weekday() < 5]
    assert statistics.mean(winter) > statistics.mean(summer)
    assert season(dt.date(2025, 1, 15)) > 1 > season(dt.date(2025, 7, 15))


def test_some_people_come_back_after_their_episode_closed(small):
    by_person = defaultdict(list)
    for events, state in small["episodes"]:
        by_person[events[0]["person_ref"]].append((events[0]["occurred_at"], state))
    repeats = [eps for eps in by_person.values() if len(eps) > 1]
    assert repeats
    for eps in repeats:
        eps.sort(key=lambda x: x[0])
        for (_, earlier), (later_at, _) in itertools.pairwise(eps):
            assert earlier.closed_at is not None and earlier.closed_at < later_at


def test_workers_have_caps_and_specialists():
    sim = Simulation(SMALL)
    assert all(w["caseload_cap"] >= 20 for w in sim.workers())
    assert {s.specialism for s in sim.staff} == {None, "learning_disability", "mental_health"}
    assert {w["team"] for w in sim.workers()} == {t["key"] for t in sim.teams}


def test_events_stream_in_time_order_and_closed_episodes_are_let_go():
    sim = Simulation(demo_council(2, end=dt.date(2026, 3, 31)))
    times = [e["occurred_at"] for e in sim.events()]
    assert times == sorted(times)
    assert len(sim.open) < 0.3 * sim.episodes_started


def test_sizes_are_what_they_say():
    assert 90_000 <= SIZES["council"].expected_contacts() <= 110_000
    assert 900_000 <= SIZES["decade"].expected_contacts() <= 1_100_000
    for council in SIZES.values():
        assert council.end < dt.date.today()


def test_bulk_load_through_the_import_path_matches_the_simulation(db_url):
    import sqlalchemy as sa

    from bench.council import load
    from pathway import Engine

    council = demo_council(1, seed=2, end=dt.date(2026, 3, 31))
    result = load(db_url, council, batch=150, show_progress=False)
    expected = {}
    for events in Simulation(council).episodes():
        state = start(None, fact(events[0]))
        for e in events[1:]:
            state = apply(state, fact(e))
        expected[events[0]["person_ref"], events[0]["occurred_at"]] = (state.stage, len(events))
    assert result["episodes"] == len(expected) and result["events"] == sum(n for _, n in expected.values())
    engine = Engine(db_url, settings=Settings(_env_file=None, database_url=db_url), migrate=False)
    try:
        with engine.transaction(write=False) as conn:
            t = EPISODE
            stored = {(r.person_ref, r.contact_at): (r.stage, r.version) for r in conn.execute(
                sa.select(t.c.person_ref, t.c.contact_at, t.c.stage, t.c.version))}
    finally:
        engine.dispose()
    assert stored == expected


@pytest.mark.parametrize("council", [SMALL, demo_council(4, seed=7, end=dt.date(2026, 3, 31))], ids=["small", "demo"])
def test_caseload_caps_hold_when_the_events_are_replayed_in_time_order(council):
    """Only a crisis is taken over cap, as the engine allows: so a live replay is never refused."""
    sim = Simulation(council)
    caps = {w["key"]: w["caseload_cap"] for w in sim.workers()}
    states, load, over = {}, Counter(), []
    for e in sim.events():
        ref = e["episode_ref"]
        if e["trigger"] == "record_contact":
            states[ref] = start(None, fact(e))
            continue
        before = states[ref]
        states[ref] = after = apply(before, fact(e))
        if before.stage.endswith("_active"):
            load[before.worker] -= 1
        if after.stage.endswith("_active"):
            load[after.worker] += 1
        crisis = before.stage == "c2_waiting" or before.priority == "crisis"
        if e["trigger"] == "allocate" and not crisis and load[e["worker"]] > caps[e["worker"]]:
            over.append(e)
    assert not over
