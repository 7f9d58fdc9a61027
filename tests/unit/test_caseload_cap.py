"""The caseload cap with an allocation's weight (pathway.domain.duty.enforce_cap), no I/O: an ordinary case
and every allocation without weighting keep the one rule; a heavier case needs room for its weight."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from pathway.domain.duty import enforce_cap, may_take
from pathway.domain.episode import Fact, start
from pathway.errors import CaseloadFull

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
PRIORITY = st.sampled_from(["crisis", "high", "normal", "low"])
LOAD = st.one_of(st.integers(0, 30), st.floats(0, 30, allow_nan=False).map(lambda x: round(x * 4) / 4))
WEIGHT = st.floats(0.25, 4).map(lambda x: round(x * 4) / 4)
WORKER = st.fixed_dictionaries({"key": st.just("amira"), "caseload_cap": st.one_of(st.none(), st.integers(1, 25)),
                                "fte": st.sampled_from([0.2, 0.5, 0.8, 1.0])})


def episode(priority: str):
    return start(7, Fact("record_contact", T0, data={"person_ref": "P-1", "client_group": "mental_health",
                                                    "team": "north", "priority": priority}))


def takes(worker: dict, load: float, priority: str, weighted: bool, weight: float | None,
          crisis_over_cap: bool = False) -> bool:
    try:
        enforce_cap(episode(priority), worker, load, default_cap=20, crisis_over_cap=crisis_over_cap,
                    weighted=weighted, weight=weight)
    except CaseloadFull:
        return False
    return True


@given(worker=WORKER, load=LOAD, priority=PRIORITY, weighted=st.booleans(), weight=st.sampled_from([None, 1, 1.0]),
       crisis_over_cap=st.booleans())
def test_an_ordinary_case_is_the_one_rule(worker, load, priority, weighted, weight, crisis_over_cap):
    cap = (worker["caseload_cap"] or 20) * (worker["fte"] if weighted else 1)
    assert takes(worker, load, priority, weighted, weight, crisis_over_cap) == may_take(
        episode(priority), load, cap, crisis_over_cap)


@given(worker=WORKER, load=st.integers(0, 30), priority=PRIORITY, weight=WEIGHT)
def test_without_weighting_the_weight_changes_nothing(worker, load, priority, weight):
    assert takes(worker, load, priority, False, weight) == takes(worker, load, priority, False, None)


@given(worker=WORKER, load=LOAD, weight=WEIGHT, heavier=WEIGHT)
def test_with_weighting_a_heavier_case_is_never_easier_and_a_worker_at_cap_takes_nothing(
        worker, load, weight, heavier):
    weight, heavier = sorted((weight, heavier))
    if takes(worker, load, "normal", True, heavier):
        assert takes(worker, load, "normal", True, weight)
    if load >= (worker["caseload_cap"] or 20) * worker["fte"]:
        assert not takes(worker, load, "normal", True, weight)
    assert takes(worker, load, "crisis", True, heavier, crisis_over_cap=True)


@given(cap=st.integers(1, 25), load=st.integers(0, 30), weight=st.integers(1, 4))
def test_whole_figures_are_refused_when_the_weight_would_pass_the_cap(cap, load, weight):
    worker = {"key": "amira", "caseload_cap": cap, "fte": 1.0}
    assert takes(worker, load, "normal", True, weight) == (load + weight <= cap)
