"""Hypothesis interleaves claims, manager allocations, releases, crises, stabilisations and closes
across workers; after every step the engine's caseloads equal the active episodes each worker holds.

Runs on SQLite (the embedded default) for speed; the same code path serves PostgreSQL.
"""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pathway import CaseloadFull, Conflict, Engine, Forbidden, InvalidTransition
from pathway.domain.duty import claim_key
from pathway.domain.stages import ACTIVE, WAITING
from pathway.settings import Settings

WORKERS = {"amira": 2, "ben": 3, "dev": None}  # dev has the configured default cap
DEFAULT_CAP = 4
PRIORITIES = ("crisis", "high", "normal", "low")


def make_machine(engine: Engine, crisis_over_cap: bool):
    teams = itertools.count()

    class DutyDesk(RuleBasedStateMachine):
        """The model: each episode's stage and worker as the engine last returned them."""

        @initialize(priorities=st.lists(st.sampled_from(PRIORITIES), min_size=3, max_size=10))
        def council(self, priorities):
            n = next(teams)
            self.team, self.other = f"t{n}", f"o{n}"
            engine.create_team(key=self.team, name="Team")
            engine.create_team(key=self.other, name="Other")
            self.workers = {}
            for name, cap in WORKERS.items():
                key = f"{name}{n}"
                engine.create_worker(key=key, name=name, team=self.team, caseload_cap=cap)
                self.workers[key] = cap or DEFAULT_CAP
            self.stranger = f"zed{n}"
            engine.create_worker(key=self.stranger, name="Zed", team=self.other)
            self.episodes = {}  # id -> (stage, worker, priority)
            for priority in priorities:
                self.contact(priority)

        # -- helpers ------------------------------------------------------------------------------

        def keep(self, ep):
            self.episodes[ep.id] = (ep.stage, ep.worker, ep.priority)

        def held(self, worker):
            return sum(1 for stage, w, _ in self.episodes.values() if stage in ACTIVE and w == worker)

        def some(stages):
            return precondition(lambda self: any(s in stages for s, _, _ in self.episodes.values()))

        def pick(self, data, stages):
            ids = sorted(i for i, (stage, _, _) in self.episodes.items() if stage in stages)
            return data.draw(st.sampled_from(ids)) if ids else None

        def crisis(self, episode_id):
            stage, _, priority = self.episodes[episode_id]
            return stage == "c2_waiting" or priority == "crisis"

        # -- rules ---------------------------------------------------------------------------------

        @rule(priority=st.sampled_from(PRIORITIES))
        def contact(self, priority):
            ep = engine.record_contact(f"P-{len(self.episodes)}", "social_support", self.team, priority=priority)
            self.keep(engine.fire(ep.id, "refer"))

        @rule(data=st.data())
        def claim_next(self, data):
            worker = data.draw(st.sampled_from(sorted(self.workers)))
            queue = [ep.id for ep in engine.queue(self.team)]
            at_cap = self.held(worker) >= self.workers[worker]
            allowed = [i for i in queue if not at_cap or (crisis_over_cap and self.crisis(i))]
            try:
                ep = engine.claim_next(self.team, worker)
            except CaseloadFull:
                assert at_cap and not allowed and queue
                return
            if ep is None:
                assert not queue
                return
            # Claims take the first episode of the queue the worker may take.
            assert allowed and ep.id == allowed[0]
            assert (ep.stage, ep.worker) == (self.episodes[ep.id][0].replace("waiting", "active"), worker)
            self.keep(ep)

        @some(WAITING + ACTIVE)
        @rule(data=st.data(), manager=st.booleans())
        def claim_or_allocate(self, data, manager):
            episode_id = self.pick(data, WAITING + ACTIVE)
            if episode_id is None:
                return
            worker = data.draw(st.sampled_from(sorted(self.workers)))
            stage, holder, _ = self.episodes[episode_id]
            may = self.held(worker) < self.workers[worker] or (crisis_over_cap and self.crisis(episode_id))
            try:
                ep = (engine.fire(episode_id, "allocate", worker=worker) if manager
                      else engine.claim(episode_id, worker))
            except Conflict:
                assert not manager and stage in ACTIVE
                return
            except InvalidTransition:
                assert manager and stage in ACTIVE
                return
            except CaseloadFull:
                assert stage in WAITING and not may
                return
            assert stage in WAITING and may
            self.keep(ep)

        @rule(data=st.data())
        def stranger_claims(self, data):
            episode_id = self.pick(data, WAITING)
            with pytest.raises(Forbidden):
                if episode_id is None:
                    engine.claim_next(self.team, self.stranger)
                else:
                    engine.claim(episode_id, self.stranger)

        @some(ACTIVE)
        @rule(data=st.data())
        def release(self, data):
            episode_id = self.pick(data, ACTIVE)
            if episode_id is not None:
                self.keep(engine.fire(episode_id, "release"))

        @some(("c1_waiting", "c1_active", "c3_waiting", "c3_active"))
        @rule(data=st.data(), keep_worker=st.booleans())
        def crisis_arises(self, data, keep_worker):
            episode_id = self.pick(data, ("c1_waiting", "c1_active", "c3_waiting", "c3_active"))
            if episode_id is not None:
                keep = keep_worker and self.episodes[episode_id][0] in ACTIVE
                self.keep(engine.fire(episode_id, "crisis", keep_worker=keep))

        @some(("c2_active",))
        @rule(data=st.data(), to=st.sampled_from(["c1", "c3"]))
        def stabilise(self, data, to):
            episode_id = self.pick(data, ("c2_active",))
            if episode_id is not None:
                self.keep(engine.fire(episode_id, "stabilise", to=to))

        @some(WAITING + ACTIVE)
        @rule(data=st.data())
        def close(self, data):
            episode_id = self.pick(data, WAITING + ACTIVE)
            if episode_id is not None:
                self.keep(engine.fire(episode_id, "close", outcome="no_further_action"))

        # -- invariants ----------------------------------------------------------------------------

        @invariant()
        def caseloads_equal_active_episodes(self):
            loads = {r["worker"]: r["caseload"] for r in engine.caseloads(self.team)}
            assert loads == {w: self.held(w) for w in self.workers}
            if not crisis_over_cap:
                # Only an allocation adds to a caseload (a kept crisis or a stabilisation keeps the
                # worker it had), so with no crisis over cap the cap holds absolutely.
                assert all(loads[w] <= cap for w, cap in self.workers.items())
            # The queue is every waiting episode, in the domain's claim order (the SQL's ORDER BY is built
            # from the same rule).
            queue = engine.queue(self.team)
            assert sorted(ep.id for ep in queue) == sorted(
                i for i, (stage, _, _) in self.episodes.items() if stage in WAITING)
            assert queue == sorted(queue, key=claim_key)

    return DutyDesk


@pytest.mark.parametrize("crisis_over_cap", [True, False])
def test_caseloads_always_equal_active_episodes(tmp_path, crisis_over_cap):
    config = Settings(_env_file=None)
    config.caseload.default_cap = DEFAULT_CAP
    config.caseload.crisis_over_cap = crisis_over_cap
    engine = Engine(f"sqlite:///{tmp_path / 'duty.db'}", settings=config, actor="test")
    try:
        run_state_machine_as_test(
            make_machine(engine, crisis_over_cap),
            settings=settings(max_examples=20, stateful_step_count=30, database=None, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow]))
    finally:
        engine.dispose()
