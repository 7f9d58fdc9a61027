"""The board's document on both databases: the queue in the claim order Take next uses, the one it gives
marked for whoever looks, and the figures the page prints beside it (targets, partial weeks, names)."""

from __future__ import annotations

import pytest
from board_support import busy_settings, busy_team

from pathway import Engine
from pathway.services.auth import Actor
from pathway.services.board import board_data

BEN = Actor(role="duty", name="ben", worker="ben", team="north")
AMIRA = Actor(role="duty", name="amira", worker="amira", team="north")  # at her cap of 3
MANAGER = Actor(role="manager", name="nadia", team="north")


@pytest.fixture
def busy(db_url, clock):
    eng = Engine(db_url, settings=busy_settings(), clock=clock, actor="test")
    ids = busy_team(eng, clock)
    yield eng, ids
    eng.dispose()


def test_the_queue_is_the_claim_order_with_priority(busy):
    engine, ids = busy
    d = board_data(engine, "north", MANAGER)
    claim_order = [ep.id for ep in engine.queue("north")]
    assert [r["episode_id"] for r in d["queue"]] == claim_order[:len(d["queue"])]
    assert len(claim_order) == d["waiting_total"] == len(d["queue"]) + d["queue_more"]
    refs = [r["person_ref"] for r in d["queue"]]
    # crises first, then the high-priority six-day wait before the 25-day normal one
    assert refs[:3] == ["P-000701", "P-000705", "P-000703"]
    assert refs.index("P-000703") < refs.index("P-000702")
    assert d["queue"][2]["priority"] == "high" and d["queue"][2]["days_waiting"] == 6
    assert [r["position"] for r in d["queue"][:3]] == [1, 2, 3]


def test_the_marked_next_is_the_one_take_next_gives(busy):
    engine, ids = busy
    for actor in (BEN, AMIRA):
        d = board_data(engine, "north", actor)
        marked = [r["episode_id"] for r in d["queue"] if r["next"]]
        assert marked == [d["next_episode_id"]] and d["next_for"] == actor.worker
        taken = engine.claim_next("north", actor.worker)
        assert taken.id == d["next_episode_id"], actor.worker


def test_a_worker_at_cap_is_shown_the_crisis_they_may_still_take(busy):
    engine, ids = busy
    engine.claim_next("north", "ben")  # ben takes the first crisis
    d = board_data(engine, "north", AMIRA)
    assert d["queue"][0]["person_ref"] == "P-000705" and d["next_episode_id"] == ids["P-000705"]
    engine.claim_next("north", "amira")  # the last crisis goes over her cap
    d = board_data(engine, "north", AMIRA)
    assert d["next_episode_id"] is None and not any(r["next"] for r in d["queue"])
    assert board_data(engine, "north", BEN)["next_episode_id"] == ids["P-000703"]


def test_the_figures_carry_their_targets_names_and_partial_week(busy):
    engine, _ = busy
    d = board_data(engine, "north", MANAGER)
    assert d["targets"]["c1_waiting"] == {"days": 11, "day_mode": "calendar",
                                          "by_client_group": {"mental_health": 14, "learning_disability": 21}}
    assert d["targets"]["contact"] == {"days": 2, "day_mode": "working", "by_client_group": {}}
    row = next(r for r in d["queue"] if r["person_ref"] == "P-000702")
    assert (row["threshold_days"], row["breach"]) == (14, True)
    assert {c["worker"]: c["name"] for c in d["caseloads"]}["amira"] == "Amira Khan"
    assert [t["partial"] for t in d["trend"]] == [False] * 7 + [True]
    assert d["labels"]["stages"]["c1_waiting"] == "Conversation 1"
    assert d["generated_at"].startswith("2026-05-20T12:00")


def test_a_duty_worker_moved_to_another_team_is_shown_no_next(busy):
    engine, _ = busy
    stale_token_actor = Actor(role="duty", name="cara", worker="cara", team="north")  # cara is of south
    d = board_data(engine, "north", stale_token_actor)
    assert d["next_episode_id"] is None and not any(r["next"] for r in d["queue"])


def test_the_marked_next_follows_skills_and_absence_as_the_claim_does(busy):
    """Sensory support needs the sensory skill (board_support.SKILL_RULES): until ben has it, his NEXT
    passes over them as his claim does; a worker away today is marked nobody."""
    engine, ids = busy
    for _ in range(2):  # the two crises go
        engine.claim_next("north", "chloe")
    queue = board_data(engine, "north", MANAGER)["queue"]
    sensory = [r["episode_id"] for r in queue if r["client_group"] == "sensory_support"]
    ahead = next(i for i, r in enumerate(queue) if r["episode_id"] == sensory[0])
    for _ in range(ahead):  # those ahead of the first sensory person are taken: it heads the queue
        engine.claim_next("north", "dev")
    d = board_data(engine, "north", BEN)
    assert d["queue"][0]["episode_id"] == sensory[0] and d["next_episode_id"] != sensory[0]
    assert engine.claim_next("north", "ben").id == d["next_episode_id"]
    engine.workforce.set_skills("gus", ["sensory"], actor="test")
    gus = Actor(role="duty", name="gus", worker="gus", team="north")
    assert board_data(engine, "north", gus)["next_episode_id"] == sensory[0]
    today = engine.now().date()
    engine.workforce.add_absence("gus", today, today, "leave", actor="test")
    assert board_data(engine, "north", gus)["next_episode_id"] is None
