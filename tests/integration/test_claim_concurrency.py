"""Real concurrency at the duty desk: many claimers at once, on PostgreSQL and on SQLite.

The queue is loaded in bulk (bench.claims.seed_queue); every claim goes through the engine.
"""

import collections
import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from conftest import empty_tables
from episode_support import wait_dates_that_disagree

from bench.claims import seed_queue
from pathway import CaseloadFull, Conflict, Engine, Forbidden
from pathway.services import duty
from pathway.store.tables import EPISODE, EVENT

# PostgreSQL: 2,000 waiting, 8 workers with 3 claimers each (24 threads); SQLite: fewer.
SCENARIO = {"postgresql": (2000, 8, 3), "sqlite": (320, 8, 2)}


def run_threads(n, work):
    errors = []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a claimer never finished: deadlock?"
    assert not errors, errors[:3]


def test_many_claimers_empty_the_queue_each_episode_once_and_nobody_over_cap(engine):
    size, workers, per_worker = SCENARIO[engine.db.dialect.name]
    cap = size // workers  # exactly enough places for the whole queue
    engine.create_team(key="north", name="North")
    for w in range(workers):
        engine.create_worker(key=f"w{w}", name=f"Worker {w}", team="north", caseload_cap=cap)
    ids = seed_queue(engine.db, "north", size, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=7)
    taken = collections.defaultdict(list)
    full = collections.Counter()

    def claimer(i):
        worker = f"w{i % workers}"
        while True:
            try:
                ep = engine.claim_next("north", worker)
            except CaseloadFull:
                full[worker] += 1
                return
            if ep is None:
                return
            assert ep.worker == worker and ep.stage == "c1_active"
            taken[worker].append(ep.id)

    run_threads(workers * per_worker, claimer)

    claimed = [x for ids_ in taken.values() for x in ids_]
    assert sorted(claimed) == sorted(ids)  # every episode claimed, none twice, none lost
    assert engine.queue("north") == []
    with engine.db.connect() as conn:
        per_episode = dict(conn.execute(
            sa.select(EVENT.c.episode_id, sa.func.count()).where(EVENT.c.trigger == "allocate")
            .group_by(EVENT.c.episode_id)).all())
        holders = dict(conn.execute(sa.select(EPISODE.c.id, EPISODE.c.worker)).all())
    assert set(per_episode) == set(ids) and set(per_episode.values()) == {1}
    assert all(holders[x] == worker for worker, xs in taken.items() for x in xs)
    loads = {r["worker"]: r["caseload"] for r in engine.caseloads("north")}
    assert loads == {f"w{w}": cap for w in range(workers)}  # all full, none over
    assert all(len(taken[f"w{w}"]) == cap for w in range(workers))
    for x in ids[:: max(1, size // 20)]:
        assert engine.replay(x) == engine.get(x)
    assert wait_dates_that_disagree(engine) == []


def test_racing_claims_on_one_episode_have_one_winner(engine):
    engine.create_team(key="north", name="North")
    claimers = 8
    for w in range(claimers):
        engine.create_worker(key=f"w{w}", name=f"Worker {w}", team="north", caseload_cap=50)
    ids = seed_queue(engine.db, "north", 12, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=3)
    wins = collections.Counter()
    losses = collections.Counter()

    def claimer(i):
        for x in ids:
            try:
                engine.claim(x, f"w{i}")
                wins[x] += 1
            except Conflict as exc:
                assert "already taken by" in exc.detail
                losses[x] += 1

    run_threads(claimers, claimer)
    assert all(wins[x] == 1 and losses[x] == claimers - 1 for x in ids)
    assert sum(r["caseload"] for r in engine.caseloads("north")) == len(ids)


def test_one_worker_claiming_from_many_places_never_passes_the_cap(engine):
    """The same worker in several sessions at once: the worker's row lock serialises the cap check."""
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=5)
    ids = seed_queue(engine.db, "north", 40, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=5)
    got = []

    def claimer(i):
        for _ in range(3):
            try:
                if i % 2:
                    ep = engine.claim_next("north", "amira")
                else:
                    ep = engine.claim(ids[(i * 3 + _) % len(ids)], "amira")
            except (CaseloadFull, Conflict):
                continue
            if ep is not None:
                got.append(ep.id)

    run_threads(12, claimer)
    assert len(got) == len(set(got)) == 5
    assert engine.caseloads("north")[0]["caseload"] == 5


def test_managers_allocating_to_one_worker_at_once_never_pass_the_cap(engine):
    """Managers at several desks allocate different people to the same worker at the same moment:
    the allocation's lock on the worker's row serialises the cap check, so exactly the cap lands."""
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=4)
    ids = seed_queue(engine.db, "north", 24, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=6)
    got, full = [], []

    def manager(i):
        for j in range(2):
            try:
                got.append(engine.fire(ids[i * 2 + j], "allocate", worker="amira", actor=f"manager-{i}").id)
            except CaseloadFull as exc:
                full.append(exc)

    run_threads(12, manager)
    assert len(got) == len(set(got)) == 4 and len(full) == 20
    assert engine.caseloads("north")[0]["caseload"] == 4


@pytest.mark.parametrize("crisis_over_cap", [True, False])
def test_crises_under_concurrency(engine, crisis_over_cap):
    """Workers at cap race for crises: taken over cap only when configured, each exactly once."""
    engine.settings.caseload.crisis_over_cap = crisis_over_cap
    engine.create_team(key="north", name="North")
    for w in range(4):
        engine.create_worker(key=f"w{w}", name=f"Worker {w}", team="north", caseload_cap=2)
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    normal = seed_queue(engine.db, "north", 8, start_at=start, seed=11, priorities=("normal",))
    for w in range(4):  # everybody at cap
        for _ in range(2):
            engine.claim_next("north", f"w{w}")
    crises = seed_queue(engine.db, "north", 10, start_at=start, seed=12, crisis_share=1.0)
    taken = []

    def claimer(i):
        while True:
            try:
                ep = engine.claim_next("north", f"w{i % 4}")
            except CaseloadFull:
                return
            if ep is None:
                return
            taken.append(ep.id)

    run_threads(8, claimer)
    assert all(engine.get(x).stage == "c1_active" for x in normal)
    if crisis_over_cap:
        assert sorted(taken) == sorted(crises)
        assert sum(r["caseload"] for r in engine.caseloads("north")) == 8 + len(crises)
    else:
        assert taken == []
        assert [ep.id for ep in engine.queue("north")] == sorted(crises)
        assert {r["caseload"] for r in engine.caseloads("north")} == {2}


@pytest.fixture
def pg_engine(pg_url, clock, settings):
    """PostgreSQL alone, for what only its snapshots and row locks raise (SQLite's writers queue whole)."""
    empty_tables(pg_url)
    eng = Engine(pg_url, settings=settings, clock=clock, actor="test")
    yield eng
    eng.dispose()


def test_a_caseload_counted_before_the_workers_lock_is_counted_again_by_the_move(pg_engine):
    """A claim whose pick waited on the worker's row counted the caseload as it was before the
    other claim committed; its move counts again and refuses, so the cap holds."""
    engine = pg_engine
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=2)
    seed_queue(engine.db, "north", 5, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=7)
    engine.claim_next("north", "amira")  # 1 of 2
    outcome = []

    def second_desk():
        try:
            outcome.append(engine.claim_next("north", "amira"))
        except CaseloadFull as exc:
            outcome.append(exc)

    with engine.store.unit() as uow:  # the first desk takes the 2nd place and holds the worker's row
        duty.claim_next_in(uow, engine.settings, "north", "amira", actor="test", now=engine.now())
        desk = threading.Thread(target=second_desk, daemon=True)
        desk.start()
        waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND wait_event_type = 'Lock'")
        with engine.db.connect() as watch:
            for _ in range(3000):  # until the second desk's pick waits on the worker's row
                if watch.execute(waiting).scalar_one():
                    break
                threading.Event().wait(0.01)
            else:
                pytest.fail("the second claim never waited for the worker's row")
    desk.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], CaseloadFull), outcome
    assert "a caseload of 2 and a cap of 2" in str(outcome[0])
    assert engine.caseloads("north")[0]["caseload"] == 2


def test_a_claimer_passes_over_an_episode_another_claim_holds(pg_engine):
    """While another desk's claim holds the only waiting episode, claim_next neither waits for it
    nor calls the worker full: nothing is claimable just now. Once that claim commits, the
    episode is the other worker's and the queue is empty."""
    engine = pg_engine
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=2)
    engine.create_worker(key="ben", name="Ben", team="north", caseload_cap=2)
    (only,) = seed_queue(engine.db, "north", 1, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=3)
    with engine.store.unit() as uow:  # amira's claim holds the episode's row until it commits
        taken, refusal = duty.claim_next_in(uow, engine.settings, "north", "amira", actor="test", now=engine.now())
        assert refusal is None
        assert taken.id == only
        assert engine.claim_next("north", "ben") is None
    assert engine.claim_next("north", "ben") is None
    assert {r["worker"]: r["caseload"] for r in engine.caseloads("north")} == {"amira": 1, "ben": 0}


def test_a_full_worker_is_told_so_while_the_queue_waits(pg_engine):
    """The claim's own answer when the pick finds nothing for a worker at cap: CaseloadFull
    naming the caseload and cap, and nothing written (the queue is as it was)."""
    engine = pg_engine
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=1)
    seed_queue(engine.db, "north", 3, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=4)
    engine.claim_next("north", "amira")
    before = [ep.id for ep in engine.queue("north")]
    with engine.db.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(EVENT)).scalar_one()
    with pytest.raises(CaseloadFull, match="a caseload of 1 and a cap of 1"):
        engine.claim_next("north", "amira")
    assert [ep.id for ep in engine.queue("north")] == before
    with engine.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(EVENT)).scalar_one() == events


def test_skilled_claimers_at_once_take_only_whom_they_are_skilled_for_never_twice_never_over_cap(db_url, clock):
    """Specialist and generic workers emptying a mixed queue at once: every person taken once, by a
    worker skilled for them, nobody over cap; what no present worker may take stays in the queue."""
    from pathway.settings import Settings

    rules = [{"client_group": g, "skill": g} for g in ("learning_disability", "mental_health")]
    engine = Engine(db_url, settings=Settings(_env_file=None, workforce={"require": rules}), clock=clock)
    size, workers, per_worker = SCENARIO[engine.db.dialect.name]
    engine.create_team(key="north", name="North")
    skills = {0: ["learning_disability"], 1: ["mental_health"], 2: ["learning_disability", "mental_health"]}
    cap = size // workers
    for w in range(workers):
        engine.create_worker(key=f"w{w}", name=f"Worker {w}", team="north", caseload_cap=cap)
        engine.workforce.set_skills(f"w{w}", skills.get(w % 4, []))
    engine.workforce.add_absence("w7", "2026-05-01", "2026-06-30", "sickness")  # w7 (generic) is away
    groups = ("physical_support", "physical_support", "learning_disability", "mental_health")
    ids = seed_queue(engine.db, "north", size, start_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC), seed=11,
                     crisis_share=0.05, client_groups=groups)
    taken = collections.defaultdict(list)

    def claimer(i):
        worker = f"w{i % workers}"
        while True:
            try:
                ep = engine.claim_next("north", worker)
            except (CaseloadFull, Forbidden):
                return
            if ep is None:
                return
            taken[worker].append(ep.id)

    run_threads(workers * per_worker, claimer)

    claimed = [x for xs in taken.values() for x in xs]
    assert len(claimed) == len(set(claimed))  # never twice
    assert "w7" not in taken  # the absent worker took nobody
    with engine.db.connect() as conn:
        per_episode = dict(conn.execute(
            sa.select(EVENT.c.episode_id, sa.func.count()).where(EVENT.c.trigger == "allocate")
            .group_by(EVENT.c.episode_id)).all())
        rows = {r.id: r for r in conn.execute(sa.select(EPISODE.c.id, EPISODE.c.worker, EPISODE.c.client_group))}
    assert set(per_episode) == set(claimed) and set(per_episode.values()) == {1}
    for worker, xs in taken.items():
        own = set(skills.get(int(worker[1:]) % 4, []))
        for x in xs:  # no unskilled allocation
            assert rows[x].worker == worker
            assert rows[x].client_group == "physical_support" or rows[x].client_group in own, (worker, x)
    loads = {r["worker"]: r["caseload"] for r in engine.caseloads("north")}
    # crises may go over cap (caseload.crisis_over_cap), nothing else: the non-crisis load is within the cap
    with engine.db.connect() as conn:
        plain = dict(conn.execute(sa.select(EPISODE.c.worker, sa.func.count())
                                  .where(EPISODE.c.stage == "c1_active").group_by(EPISODE.c.worker)).all())
    assert all(n <= cap for n in plain.values()), plain
    assert sum(loads.values()) == len(claimed)
    # whoever is left waiting is someone no present worker with room and the skill could take
    left = engine.queue("north")
    assert {ep.id for ep in left} == set(ids) - set(claimed)
    assert all(ep.takers == 0 for ep in left)
    engine.dispose()


def test_one_part_time_worker_claiming_from_many_places_never_passes_cap_times_fte(db_url, clock):
    """With weighted caseloads, the cap is cap x FTE and the weights count: concurrent claims stop there."""
    from pathway.settings import Settings

    engine = Engine(db_url, settings=Settings(_env_file=None, workforce={"weighting": True}), clock=clock)
    engine.create_team(key="north", name="North")
    engine.create_worker(key="amira", name="Amira", team="north", caseload_cap=10)
    engine.workforce.update("amira", fte=0.6)  # a cap of 6
    seed_queue(engine.db, "north", 30, start_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), seed=8)
    got = []

    def claimer(i):
        for _ in range(3):
            try:
                ep = engine.claim_next("north", "amira")
            except CaseloadFull:
                continue
            if ep is not None:
                got.append(ep.id)

    run_threads(12, claimer)
    assert len(got) == len(set(got)) == 6
    assert engine.caseloads("north")[0]["weight"] == 6.0
    engine.dispose()
