"""Hypothesis interleaves claims, named claims, manager allocations (some with an override), releases,
absences, release_all and the days passing, with workers of different skills and people of different
client groups; after every step nobody holds a person they are not skilled for (unless a manager
overrode it), nobody is over cap, an absent worker holds nobody new, and every claim took the first
person in claim order that the worker was skilled for.

Runs on SQLite (the embedded default) for speed; the concurrency tests run the same code on PostgreSQL.
"""

import datetime as dt
import itertools

from conftest import Clock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from pathway import CaseloadFull, Conflict, Engine, Forbidden, InvalidTransition
from pathway.domain import days
from pathway.domain.stages import ACTIVE, WAITING
from pathway.domain.workforce import required_skill
from pathway.settings import Settings

GROUPS = ("physical_support", "learning_disability", "mental_health")
RULES = [{"client_group": g, "skill": g} for g in GROUPS[1:]]
SKILLS = {"ld": ["learning_disability"], "mh": ["mental_health"], "gen": [], "both": GROUPS[1:]}
CAP = 3


def make_machine(engine: Engine, clock: Clock):
    teams = itertools.count()
    rules = engine.settings.workforce.rules

    class Workforce(RuleBasedStateMachine):
        @initialize(groups=st.lists(st.sampled_from(GROUPS), min_size=3, max_size=8))
        def council(self, groups):
            n = next(teams)
            self.team = f"t{n}"
            engine.create_team(key=self.team, name="Team")
            self.skills = {}
            for name, skills in SKILLS.items():
                key = f"{name}{n}"
                engine.create_worker(key=key, name=name, team=self.team, caseload_cap=CAP)
                engine.workforce.set_skills(key, list(skills))
                self.skills[key] = set(skills)
            self.overridden = set()
            for group in groups:
                self.contact(group)

        def episodes(self):
            return {ep.id: ep for ep in (engine.get(i) for i in self.ids)}

        def need(self, ep):
            return required_skill(rules, ep.team, ep.client_group, ep.stage.replace("active", "waiting"))

        def away(self, worker):
            today = days.london_date(clock())
            return any(a["start"] <= today <= a["end"] for a in engine.workforce.absences(worker))

        def held(self, worker):
            return sum(1 for ep in self.episodes().values() if ep.stage in ACTIVE and ep.worker == worker)

        @rule(group=st.sampled_from(GROUPS))
        def contact(self, group):
            ep = engine.record_contact(f"P-{int(clock().timestamp())}-{group.upper()}", group, self.team)
            self.ids = [*getattr(self, "ids", []), engine.fire(ep.id, "refer").id]

        @rule(data=st.data())
        def claim_next(self, data):
            worker = data.draw(st.sampled_from(sorted(self.skills)))
            mine = [ep.id for ep in engine.queue(self.team)
                    if self.need(ep) is None or self.need(ep) in self.skills[worker]]
            try:
                ep = engine.claim_next(self.team, worker)
            except Forbidden:
                assert self.away(worker)
                return
            except CaseloadFull:
                assert self.held(worker) >= CAP and mine
                return
            assert not self.away(worker)
            if ep is None:
                assert not mine
                return
            assert ep.id == mine[0] and ep.worker == worker  # the first one they are skilled for

        @rule(data=st.data(), manager=st.booleans(), override=st.booleans())
        def claim_or_allocate(self, data, manager, override):
            worker = data.draw(st.sampled_from(sorted(self.skills)))
            episode_id = data.draw(st.sampled_from(self.ids))
            before = engine.get(episode_id)
            reason = "knows the family" if manager and override else None
            try:
                ep = (engine.fire(episode_id, "allocate", worker=worker, override=reason) if manager
                      else engine.claim(episode_id, worker))
            except (Conflict, InvalidTransition):
                assert before.stage not in WAITING
                return
            except Forbidden as exc:
                assert self.away(worker) or (exc.extra.get("skill") == self.need(before) and reason is None)
                return
            except CaseloadFull:
                assert self.held(worker) >= CAP
                return
            if self.need(before) not in (None, *self.skills[worker]):
                assert reason is not None
                self.overridden.add(ep.id)

        @rule(data=st.data())
        def release(self, data):
            episode_id = data.draw(st.sampled_from(self.ids))
            if engine.get(episode_id).stage in ACTIVE:
                engine.fire(episode_id, "release")
                self.overridden.discard(episode_id)

        @rule(data=st.data(), length=st.integers(0, 2))
        def goes_off_sick(self, data, length):
            worker = data.draw(st.sampled_from(sorted(self.skills)))
            today = days.london_date(clock())
            if self.away(worker) or any(a["end"] >= today for a in engine.workforce.absences(worker)):
                return
            engine.workforce.add_absence(worker, today, today + dt.timedelta(days=length), "sickness")
            released = {ep.id for ep in engine.release_all(worker, "sickness")}
            self.overridden -= released
            assert self.held(worker) == 0

        @rule()
        def a_day_passes(self):
            clock.advance(days=1)

        @invariant()
        def nobody_unskilled_over_cap_or_away_holds_anyone(self):
            held = {}
            for ep in self.episodes().values():
                if ep.stage in ACTIVE:
                    held[ep.worker] = held.get(ep.worker, 0) + 1
                    assert ep.id in self.overridden or self.need(ep) in (None, *self.skills[ep.worker])
            assert all(n <= CAP for n in held.values())  # no crisis here: the cap is absolute

    return Workforce


def test_skills_absences_and_caps_hold_whatever_the_order(tmp_path):
    clock = Clock()
    engine = Engine(f"sqlite:///{tmp_path / 'workforce.db'}", clock=clock, actor="test",
                    settings=Settings(_env_file=None, workforce={"require": RULES}))
    try:
        run_state_machine_as_test(
            make_machine(engine, clock),
            settings=settings(max_examples=15, stateful_step_count=25, database=None, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow]))
    finally:
        engine.dispose()
