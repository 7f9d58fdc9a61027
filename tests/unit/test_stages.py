"""The pathway table on its own: no database, no I/O."""

import pytest

from pathway.domain.stages import ACTIVE, OPEN, STAGES, TRIGGERS, WAITING, Probe, allowed_triggers, next_stage
from pathway.errors import InvalidTransition, ValidationError

# Every move of DESIGN.md's table, written out by hand.
EXPECTED = [
    (Probe("contact", outcome="signposted"), "resolve", "closed"),
    (Probe("contact"), "refer", "c1_waiting"),
    (Probe("c1_waiting", worker="amira"), "allocate", "c1_active"),
    (Probe("c2_waiting", worker="amira"), "allocate", "c2_active"),
    (Probe("c3_waiting", worker="amira"), "allocate", "c3_active"),
    (Probe("c1_active"), "release", "c1_waiting"),
    (Probe("c2_active"), "release", "c2_waiting"),
    (Probe("c3_active"), "release", "c3_waiting"),
    (Probe("contact"), "crisis", "c2_waiting"),
    (Probe("c1_waiting"), "crisis", "c2_waiting"),
    (Probe("c1_active"), "crisis", "c2_waiting"),
    (Probe("c1_active", keep_worker=True), "crisis", "c2_active"),
    (Probe("c3_waiting"), "crisis", "c2_waiting"),
    (Probe("c3_active", keep_worker=True), "crisis", "c2_active"),
    (Probe("c2_active"), "stabilise", "c1_active"),
    (Probe("c2_active", to="c1"), "stabilise", "c1_active"),
    (Probe("c2_active", to="c3"), "stabilise", "c3_waiting"),
    (Probe("c1_active"), "plan", "c3_waiting"),
] + [(Probe(stage, outcome="declined"), "close", "closed") for stage in OPEN]


@pytest.mark.parametrize(("move", "trigger", "dest"), EXPECTED)
def test_every_move_of_the_table(move, trigger, dest):
    assert next_stage(move, trigger) == dest


def test_allowed_triggers_per_stage():
    assert allowed_triggers("contact") == ["resolve", "refer", "crisis", "close"]
    assert allowed_triggers("c1_waiting") == ["allocate", "crisis", "close"]
    assert allowed_triggers("c1_active") == ["release", "crisis", "plan", "close"]
    assert allowed_triggers("c2_waiting") == ["allocate", "close"]
    assert allowed_triggers("c2_active") == ["release", "stabilise", "close"]
    assert allowed_triggers("c3_active") == ["release", "crisis", "close"]
    assert allowed_triggers("closed") == []


def test_impossible_move_names_stage_and_allowed():
    with pytest.raises(InvalidTransition) as err:
        next_stage(Probe("c1_waiting"), "plan")
    assert err.value.stage == "c1_waiting"
    assert err.value.allowed == ["allocate", "crisis", "close"]
    assert "cannot plan from stage c1_waiting" in str(err.value)
    assert err.value.to_dict()["allowed"] == ["allocate", "crisis", "close"]


@pytest.mark.parametrize(("move", "trigger", "words"), [
    (Probe("contact"), "resolve", "an outcome is required"),
    (Probe("c2_active"), "close", "an outcome is required"),
    (Probe("c1_waiting"), "allocate", "a worker is required"),
    (Probe("c1_waiting"), "teleport", "unknown trigger 'teleport'"),
    (Probe("c2_active", to="c9"), "stabilise", "'c1' or 'c3'"),
])
def test_guards_say_what_is_missing(move, trigger, words):
    with pytest.raises(ValidationError, match=words):
        next_stage(move, trigger)


def test_stage_names_partition():
    assert set(WAITING) | set(ACTIVE) | {"contact", "closed"} == set(STAGES)
    assert len(TRIGGERS) == 8


def test_unknown_stage_is_refused():
    with pytest.raises(ValidationError, match="unknown stage"):
        allowed_triggers("limbo")
