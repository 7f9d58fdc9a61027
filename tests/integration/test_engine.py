"""The engine on a real database: the same tests on SQLite and PostgreSQL."""

import threading

import pytest
import sqlalchemy as sa
from episode_support import wait_dates_that_disagree

from pathway import Conflict, InvalidTransition, NotFound, ValidationError
from pathway.store.tables import EVENT, OUTBOX


def counts(engine):
    with engine.db.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (sa.table("episode"), EVENT, OUTBOX))


def referred(engine, **kw):
    ep = engine.record_contact("P-100", "learning_disability", "north", occurred_at="2026-05-01T09:00:00+01:00", **kw)
    return engine.fire(ep.id, "refer", occurred_at="2026-05-02")


def test_every_path_of_the_pathway_and_replay(council):
    e = council
    # resolved at contact
    a = e.record_contact("P-1", "physical_support", "north", occurred_at="2026-05-01")
    a = e.fire(a.id, "resolve", outcome="information_and_advice", occurred_at="2026-05-01T10:00")
    assert a.stage == "closed" and a.outcome == "information_and_advice"
    # c1 -> crisis kept by worker -> stabilise to c3 -> allocate -> release -> allocate -> close
    b = referred(e)
    assert b.stage == "c1_waiting" and b.days_waiting == 31  # 2026-05-01 -> clock 2026-06-01
    b = e.fire(b.id, "allocate", worker="amira", occurred_at="2026-05-12T10:00")
    assert (b.stage, b.worker, b.days_to_allocation) == ("c1_active", "amira", 11)
    b = e.fire(b.id, "crisis", keep_worker=True, occurred_at="2026-05-13")
    assert (b.stage, b.worker, b.days_to_allocation) == ("c2_active", "amira", 0)
    b = e.fire(b.id, "stabilise", to="c3", occurred_at="2026-05-20")
    assert (b.stage, b.worker) == ("c3_waiting", None)
    b = e.fire(b.id, "allocate", worker="ben", occurred_at="2026-05-25")
    b = e.fire(b.id, "release", occurred_at="2026-05-26", note="worker on leave")
    assert b.stage == "c3_waiting" and b.days_waiting == 12  # clock runs from 20 May: release does not restart it
    b = e.fire(b.id, "allocate", worker="amira", occurred_at="2026-05-28")
    assert b.days_to_allocation == 5  # the first allocation of c3 stands
    b = e.fire(b.id, "close", outcome="long_term_support", occurred_at="2026-05-30")
    assert b.stage == "closed" and b.worker is None
    # c1 -> plan -> crisis from c3 waiting -> allocate -> stabilise back to c1 -> close
    c = referred(e)
    c = e.fire(c.id, "allocate", worker="ben", occurred_at="2026-05-03")
    c = e.fire(c.id, "plan", occurred_at="2026-05-04")
    c = e.fire(c.id, "crisis", occurred_at="2026-05-05")
    c = e.fire(c.id, "allocate", worker="ben", occurred_at="2026-05-05T12:00")
    c = e.fire(c.id, "stabilise", occurred_at="2026-05-09")
    assert (c.stage, c.worker) == ("c1_active", "ben")
    c = e.fire(c.id, "close", outcome="crisis_resolved", occurred_at="2026-05-10")
    for ep in (a, b, c):
        assert e.replay(ep.id) == e.get(ep.id)
    assert wait_dates_that_disagree(e) == []
    assert [(x["conversation"], x["days"]) for x in e.allocations(b.id)] == [("c1", 11), ("c3", 5)]
    assert [h["trigger"] for h in e.history(c.id)] == [
        "record_contact", "refer", "allocate", "plan", "crisis", "allocate", "stabilise", "close"]
    hist = e.history(b.id)
    assert all(h["actor"] == "test" for h in hist)
    assert [h["allocation"] for h in hist if h["trigger"] == "allocate"] == ["manager"] * 3
    assert [h["first_allocation"] for h in hist if h["trigger"] == "allocate"] == [True, True, False]


def test_every_event_has_an_outbox_message(council):
    ep = referred(council)
    council.fire(ep.id, "close", outcome="declined", occurred_at="2026-05-03")
    assert counts(council) == (1, 3, 3)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda e, ep: e.fire(ep.id, "teleport"), ValidationError, "unknown trigger 'teleport'"),
    (lambda e, ep: e.fire(ep.id, "plan"), InvalidTransition, "allowed from c1_waiting: allocate, crisis, close"),
    (lambda e, ep: e.fire(ep.id, "close"), ValidationError, "an outcome is required"),
    (lambda e, ep: e.fire(ep.id, "close", outcome="vanished"), ValidationError, "unknown outcome 'vanished'"),
    (lambda e, ep: e.fire(ep.id, "allocate"), ValidationError, "a worker is required"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="nobody"), NotFound, "unknown worker 'nobody'"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="cara"), ValidationError, "not the episode's team"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="ben", occurred_at="2026-04-01"), ValidationError,
     "before the episode's previous event"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="ben", occurred_at="2027-01-01"), ValidationError,
     "in the future"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="ben", occurred_at="soon"), ValidationError, "ISO 8601"),
    (lambda e, ep: e.fire(ep.id, "close", outcome="declined", worker="ben"), ValidationError,
     "worker is given only with allocate"),
    (lambda e, ep: e.fire(99999, "refer"), NotFound, "no episode 99999"),
    (lambda e, ep: e.fire(ep.id, "allocate", worker="ben", expected_version=1), Conflict, "has changed"),
    (lambda e, ep: e.record_contact("P-2", "aliens", "north"), ValidationError, "unknown client group 'aliens'"),
    (lambda e, ep: e.record_contact("P-2", "mental_health", "east"), NotFound,
     "unknown team 'east'; teams are: north, south"),
    (lambda e, ep: e.record_contact("Jane Smith", "mental_health", "north"), ValidationError, "never a name"),
    (lambda e, ep: e.record_contact("P-2", "mental_health", "north", priority="urgent"), ValidationError,
     "unknown priority"),
])
def test_bad_input_is_refused_and_nothing_is_written(council, call, error, words):
    ep = referred(council)
    before = counts(council)
    with pytest.raises(error, match=words):
        call(council, ep)
    assert counts(council) == before
    assert council.get(ep.id) == council.replay(ep.id)


def test_idempotency_keys(council):
    e = council
    ep = e.record_contact("P-7", "mental_health", "north", idempotency_key="contact-7")
    again = e.record_contact("P-7", "mental_health", "north", idempotency_key="contact-7")
    assert again.id == ep.id and counts(e)[0] == 1
    with pytest.raises(Conflict, match="already used for a different contact"):
        e.record_contact("P-8", "mental_health", "north", idempotency_key="contact-7")
    first = e.fire(ep.id, "refer", idempotency_key="k1")
    e.fire(ep.id, "allocate", worker="ben", idempotency_key="k2")
    repeat = e.fire(ep.id, "refer", idempotency_key="k1")
    assert repeat.stage == first.stage == "c1_waiting"  # the first result, not a second move
    assert e.get(ep.id).stage == "c1_active"
    before = counts(e)
    with pytest.raises(Conflict, match="for a different request"):
        e.fire(ep.id, "close", outcome="declined", idempotency_key="k1")
    assert counts(e) == before


def test_stale_writers_conflict_and_never_overwrite(council):
    e = council
    ep = referred(e)
    barrier = threading.Barrier(8)
    results = []

    def take(worker):
        barrier.wait()
        try:
            results.append(e.fire(ep.id, "allocate", worker=worker, expected_version=ep.version).worker)
        except (Conflict, InvalidTransition) as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=take, args=("amira" if i % 2 else "ben",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r in ("amira", "ben")]
    assert len(winners) == 1, results
    assert e.get(ep.id).worker == winners[0]
    assert [h["trigger"] for h in e.history(ep.id)].count("allocate") == 1


def test_local_client_groups_from_config(db_url, clock):
    from pathway import Engine
    from pathway.settings import Settings

    e = Engine(db_url, settings=Settings(_env_file=None, extra_client_groups=["dementia"]), clock=clock)
    e.create_team("north", "North")
    assert e.record_contact("P-1", "dementia", "north").client_group == "dementia"
    e.dispose()


def test_working_day_mode(db_url, clock):
    from pathway import Engine
    from pathway.settings import Settings

    e = Engine(db_url, settings=Settings(_env_file=None, day_mode="working"), clock=clock)
    e.create_team("north", "North")
    e.create_worker("amira", "Amira", "north")
    ep = e.record_contact("P-1", "sensory_support", "north", occurred_at="2026-05-22T09:00")  # a Friday
    e.fire(ep.id, "refer", occurred_at="2026-05-22T10:00")
    ep = e.fire(ep.id, "allocate", worker="amira", occurred_at="2026-05-26T09:00")  # after the bank holiday
    assert ep.days_to_allocation == 1
    e.dispose()


def test_a_move_leaves_its_connection_ready_for_a_unit_of_work(db_url, clock, settings):
    """On PostgreSQL a move runs statement by statement (its one write checks the version it read);
    the pooled connection it used goes back transactional: a later unit of work that fails half-way
    still writes nothing. One connection in the pool, so the next unit of work gets the same one."""
    from pathway import Engine
    from pathway.store.tables import TEAM

    engine = Engine(db_url, settings=settings.model_copy(update={"database_pool_size": 1}), clock=clock, actor="test")
    try:
        engine.create_team(key="north", name="North")
        ep = referred(engine)
        assert engine.fire(ep.id, "close", outcome="information_and_advice").stage == "closed"
        with pytest.raises(RuntimeError), engine.transaction() as conn:
            conn.execute(TEAM.insert().values(key="south", name="South", created_at=clock(), created_by="test"))
            raise RuntimeError("half-way")
        with engine.db.connect() as conn:
            assert conn.execute(sa.select(TEAM.c.key)).scalars().all() == ["north"]
        assert engine.replay(ep.id) == engine.get(ep.id)
    finally:
        engine.dispose()
