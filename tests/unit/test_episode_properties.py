"""Property tests of the episode fold: random valid and invalid trigger sequences, no I/O."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pathway.domain.days import DayModes
from pathway.domain.episode import Fact, apply, fold, start
from pathway.domain.events import KINDS
from pathway.domain.stages import CLOCKED, STAGES, TRIGGERS, allowed_triggers
from pathway.errors import PathwayError

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
CONTACT = Fact("record_contact", T0, data={"person_ref": "P-1", "client_group": "mental_health",
                                           "team": "north", "priority": "normal"})


def kind_data(kind: str, value: str) -> dict:
    """An event's data as the services store it, for each kind of the table (a kind added without it fails)."""
    return {
        "note": {}, "flag": {"reason": value}, "unflag": {},
        "discussed": {"where": "huddle", "decision": value, "next_action": value, "due": "2026-02-01"},
        "next_action": {"text": value, "due": "2026-02-01"},
        "reprioritise": {"priority": value, "from": {"priority": "normal"}},
        "reclassify": {"client_group": f"group-{value}", "from": {"client_group": "mental_health"}},
        "transfer": {"team": f"team-{value}", "from": {"team": "north"}},
        "conversation": {"status": "held", "mode": "phone", "minutes": 30} if value == "high"
        else {"status": "booked", "mode": "video", "at": "2026-02-01T10:00:00+00:00"},
        "welfare_check": {"outcome": "spoken" if value == "high" else "needs_follow_up", "placed": "open_episode"},
    }[kind]


class EpisodeMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.facts = [CONTACT]
        self.state = start(1, CONTACT)
        self.now = T0

    @rule(trigger=st.sampled_from(TRIGGERS), hours=st.integers(0, 24 * 20),
          worker=st.sampled_from([None, "amira", "ben"]), outcome=st.sampled_from([None, "declined"]),
          keep=st.booleans(), to=st.sampled_from([None, "c1", "c3"]))
    def fire(self, trigger, hours, worker, outcome, keep, to):
        at = self.now + dt.timedelta(hours=hours)
        data = {k: v for k, v in (("keep_worker", keep), ("to", to)) if v}
        fact = Fact(trigger, at, worker=worker, outcome=outcome, data=data)
        before = self.state
        try:
            after = apply(before, fact)
        except PathwayError:
            # A refused trigger changes nothing.
            assert self.state == before
            return
        assert trigger in allowed_triggers(before.stage)
        self.state, self.now = after, at
        self.facts.append(fact)

    @rule(kind=st.sampled_from(sorted(KINDS)), hours=st.integers(0, 48), value=st.sampled_from(["high", "low"]))
    def keep_the_stage(self, kind, hours, value):
        """An event that keeps the stage changes only what its kind sets, and the version."""
        at = self.now + dt.timedelta(hours=hours)
        data = kind_data(kind, value)
        fact = Fact(kind, at, data=data)
        after = apply(self.state, fact)
        changed = {k for k in self.state.__dict__ if getattr(after, k) != getattr(self.state, k)}
        assert changed <= {"version", *KINDS[kind].sets} and after.version == self.state.version + 1
        self.state, self.now = after, at
        self.facts.append(fact)

    @invariant()
    def stage_belongs_to_the_table(self):
        assert self.state.stage in STAGES

    @invariant()
    def replay_reproduces_the_episode(self):
        assert fold(1, self.facts) == self.state
        assert self.state.version == len(self.facts)

    @invariant()
    def days_are_never_negative(self):
        waiting = self.state.days_waiting(self.now + dt.timedelta(days=1))
        allocated = self.state.days_to_allocation()
        assert waiting is None or waiting >= 0
        assert allocated is None or allocated >= 0
        assert (waiting is not None) == (self.state.stage in CLOCKED)

    @invariant()
    def a_worker_only_when_active(self):
        assert (self.state.worker is not None) == self.state.stage.endswith("_active")


EpisodeMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestEpisodeMachine = EpisodeMachine.TestCase


@settings(deadline=None)  # the first call reads the bank holidays: slow once, on a busy machine slower
@given(st.lists(st.sampled_from(TRIGGERS), max_size=20))
def test_working_days_never_exceed_calendar_days(triggers):
    state, at = start(1, CONTACT), T0
    for i, trigger in enumerate(triggers):
        at = at + dt.timedelta(days=i % 4)
        try:
            state = apply(state, Fact(trigger, at, worker="amira", outcome="declined"))
        except PathwayError:
            continue
        later = at + dt.timedelta(days=9)
        cal, work = state.days_waiting(later, DayModes("calendar")), state.days_waiting(later, DayModes("working"))
        if cal is not None:
            assert 0 <= work <= cal
        # The council's own: the front door in working days, the queues in calendar days.
        assert state.days_waiting(later, DayModes.of_council("calendar", {"contact": "working"})) == (
            work if state.stage == "contact" else cal)
