"""The duty desk on a real database: claim order, claims, caseload caps and the duty commands."""

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pathway import CaseloadFull, Conflict, Engine, Forbidden, InvalidTransition, NotFound
from pathway.cli import app
from pathway.store.tables import EPISODE, EVENT, OUTBOX


def counts(engine):
    with engine.db.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (EPISODE, EVENT, OUTBOX))


def waiting(engine, ref, at, *, priority="normal", team="north", then=()):
    """A contact referred to conversation 1, then moved on by ``then``: (trigger, occurred_at, kwargs)."""
    ep = engine.record_contact(ref, "mental_health", team, occurred_at=at, priority=priority)
    ep = engine.fire(ep.id, "refer", occurred_at=at)
    for trigger, when, kw in then:
        ep = engine.fire(ep.id, trigger, occurred_at=when, **kw)
    return ep


def test_claim_order_of_a_hand_built_queue(council):
    e = council
    e.create_worker(key="dev", name="Dev", team="north", caseload_cap=50)
    waiting(e, "N-OLD", "2026-05-01")
    waiting(e, "N-NEW", "2026-05-20")
    waiting(e, "N-TIE-A", "2026-05-10")
    waiting(e, "N-TIE-B", "2026-05-10")  # same wait as N-TIE-A, later id
    waiting(e, "LOW-OLDEST", "2026-04-01", priority="low")
    waiting(e, "HIGH-NEW", "2026-05-25", priority="high")
    waiting(e, "HIGH-OLD", "2026-05-15", priority="high")
    waiting(e, "PRIO-CRISIS", "2026-05-22", priority="crisis")  # recorded as a crisis, waits in c1
    # crisis from c1 on 21 May: c2_waiting, clock from 21 May
    waiting(e, "C2-LATE", "2026-05-02", then=[("crisis", "2026-05-21", {})])
    # crisis on 12 May: c2 queue entered before C2-LATE's
    waiting(e, "C2-EARLY", "2026-05-11", then=[("crisis", "2026-05-12", {})])
    # conversation 3 queue entered on 3 May (contact 1 May): its clock runs from 3 May
    waiting(e, "C3", "2026-05-01", then=[("allocate", "2026-05-02", {"worker": "dev"}),
                                         ("plan", "2026-05-03", {})])
    # released back to the queue: the clock still runs from the contact on 9 May
    waiting(e, "RELEASED", "2026-05-09", then=[("allocate", "2026-05-10", {"worker": "dev"}),
                                               ("release", "2026-05-30", {})])
    waiting(e, "SOUTH", "2026-04-01", team="south", priority="crisis")  # another team's queue
    held = waiting(e, "HELD", "2026-04-01", then=[("allocate", "2026-04-02", {"worker": "dev"})])
    assert held.stage == "c1_active"  # allocated: not in the queue

    # Crisis first, longest waiting first among crises; then high, normal, low by longest waiting.
    expected = [
        "C2-EARLY",     # crisis (c2 queue), waiting since 12 May
        "C2-LATE",      # crisis (c2 queue), waiting since 21 May
        "PRIO-CRISIS",  # crisis (recorded with priority crisis), waiting since 22 May
        "HIGH-OLD",     # high, since 15 May
        "HIGH-NEW",     # high, since 25 May
        "N-OLD",        # normal, since 1 May
        "C3",           # normal, c3 queue since 3 May
        "RELEASED",     # normal, since 9 May (release does not restart the clock)
        "N-TIE-A",      # normal, since 10 May, lower id
        "N-TIE-B",      # normal, since 10 May, higher id
        "N-NEW",        # normal, since 20 May
        "LOW-OLDEST",   # low comes last however long it has waited
    ]
    assert [ep.person_ref for ep in e.queue("north")] == expected
    assert [ep.person_ref for ep in e.queue("south")] == ["SOUTH"]
    # Claims take the queue in the same order.
    taken = [e.claim_next("north", "dev").person_ref for _ in expected]
    assert taken == expected
    assert e.queue("north") == [] and e.claim_next("north", "dev") is None


def test_claim_next_records_a_self_allocation(council):
    e = council
    ep = waiting(e, "P-1", "2026-05-01")
    before = counts(e)
    got = e.claim_next("north", "amira", actor="amira")
    assert (got.id, got.stage, got.worker, got.days_to_allocation) == (ep.id, "c1_active", "amira", 31)
    last = e.history(ep.id)[-1]
    assert (last["trigger"], last["worker"], last["actor"], last["allocation"], last["first_allocation"]) == (
        "allocate", "amira", "amira", "self", True)
    assert counts(e) == (before[0], before[1] + 1, before[2] + 1)
    assert e.replay(ep.id) == e.get(ep.id)
    # A manager's allocation is recorded as such.
    other = waiting(e, "P-2", "2026-05-01")
    e.fire(other.id, "allocate", worker="ben", actor="manager-north")
    assert e.history(other.id)[-1]["allocation"] == "manager"


def test_a_second_claimer_of_the_same_episode_gets_conflict(council):
    e = council
    ep = waiting(e, "P-1", "2026-05-01")
    assert e.claim(ep.id, "amira").worker == "amira"
    before = counts(e)
    with pytest.raises(Conflict, match=f"episode {ep.id} was already taken by amira"):
        e.claim(ep.id, "ben")
    with pytest.raises(Conflict, match="already taken by you"):
        e.claim(ep.id, "amira")
    assert counts(e) == before
    # Released back to the queue, it can be claimed again.
    e.fire(ep.id, "release")
    assert e.claim(ep.id, "ben").worker == "ben"


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda e, ep: e.claim_next("east", "amira"), NotFound, "unknown team 'east'; teams are: north, south"),
    (lambda e, ep: e.claim_next("north", "nobody"), NotFound, "unknown worker 'nobody'"),
    (lambda e, ep: e.claim(ep.id, "nobody"), NotFound, "unknown worker 'nobody'"),
    (lambda e, ep: e.claim(9999, "amira"), NotFound, "no episode 9999"),
    (lambda e, ep: e.claim_next("north", "cara"), Forbidden,
     "worker 'cara' is in team 'south' and may claim only from that team's queue, not from team 'north'"),
    (lambda e, ep: e.claim(ep.id, "cara"), Forbidden, "may claim only from that team's queue"),
    (lambda e, ep: e.queue("east"), NotFound, "unknown team 'east'; teams are: north, south"),
])
def test_bad_claims_change_nothing(council, call, error, words):
    ep = waiting(council, "P-1", "2026-05-01")
    before = counts(council)
    with pytest.raises(error, match=words):
        call(council, ep)
    assert counts(council) == before
    assert council.get(ep.id).stage == "c1_waiting"


def test_only_waiting_episodes_can_be_claimed(council):
    e = council
    contact = e.record_contact("P-1", "mental_health", "north", occurred_at="2026-05-01")
    closed = waiting(e, "P-2", "2026-05-01", then=[("close", "2026-05-02", {"outcome": "declined"})])
    before = counts(e)
    with pytest.raises(InvalidTransition, match="cannot allocate from stage contact"):
        e.claim(contact.id, "amira")
    with pytest.raises(InvalidTransition, match="cannot allocate from stage closed"):
        e.claim(closed.id, "amira")
    assert e.claim_next("north", "amira") is None  # neither is in the queue
    assert counts(e) == before


def test_caseload_cap_applies_to_claims_and_to_managers(council):
    e = council  # amira's cap is 3
    eps = [waiting(e, f"P-{n}", f"2026-05-0{n + 1}") for n in range(5)]
    assert [e.claim_next("north", "amira").id for _ in range(3)] == [ep.id for ep in eps[:3]]
    before = counts(e)
    with pytest.raises(CaseloadFull, match="worker 'amira' has a caseload of 3 and a cap of 3") as info:
        e.claim_next("north", "amira")
    assert (info.value.extra["caseload"], info.value.extra["cap"]) == (3, 3)
    with pytest.raises(CaseloadFull, match="caseload of 3 and a cap of 3"):
        e.claim(eps[4].id, "amira")
    with pytest.raises(CaseloadFull, match="caseload of 3 and a cap of 3"):
        e.fire(eps[4].id, "allocate", worker="amira")  # a manager's allocation: the same rule
    assert counts(e) == before
    # Closing one frees a place.
    e.fire(eps[0].id, "close", outcome="met_at_c1")
    assert e.claim_next("north", "amira").id == eps[3].id
    # A crisis kept by its worker stays in their caseload; stabilised to c3 it leaves it.
    e.fire(eps[1].id, "crisis", keep_worker=True)
    assert [r["caseload"] for r in e.caseloads("north") if r["worker"] == "amira"] == [3]
    e.fire(eps[1].id, "stabilise", to="c3")
    assert [r["caseload"] for r in e.caseloads("north") if r["worker"] == "amira"] == [2]


def test_a_crisis_may_be_taken_over_cap_by_default(council):
    e = council
    for n in range(3):
        e.claim(waiting(e, f"P-{n}", "2026-05-01").id, "amira")
    normal = waiting(e, "P-NORMAL", "2026-04-01", priority="high")
    crisis = waiting(e, "P-CRISIS", "2026-05-01", then=[("crisis", "2026-05-20", {})])
    # At cap, the next claim passes over what she may not take and finds the crisis.
    got = e.claim_next("north", "amira")
    assert (got.id, got.stage) == (crisis.id, "c2_active")
    assert e.caseloads("north")[0] == {"worker": "amira", "team": "north", "caseload": 4, "weight": 4.0,
                                       "fte": 1.0, "cap": 3, "free": 0, "over_cap": True, "away": None,
                                       "away_until": None}
    with pytest.raises(CaseloadFull, match="caseload of 4 and a cap of 3"):
        e.claim_next("north", "amira")
    assert e.get(normal.id).stage == "c1_waiting"


def test_crisis_over_cap_can_be_switched_off(db_url, clock, settings):
    settings.caseload.crisis_over_cap = False
    settings.caseload.default_cap = 1  # ben has no cap of his own: the configured default applies
    e = Engine(db_url, settings=settings, clock=clock, actor="test")
    try:
        e.create_team(key="north", name="North")
        e.create_worker(key="ben", name="Ben", team="north")
        e.claim(waiting(e, "P-1", "2026-05-01").id, "ben")
        crisis = waiting(e, "P-2", "2026-05-01", then=[("crisis", "2026-05-02", {})])
        with pytest.raises(CaseloadFull, match="caseload of 1 and a cap of 1.*crisis_over_cap is false"):
            e.claim_next("north", "ben")
        with pytest.raises(CaseloadFull, match="crisis_over_cap is false"):
            e.claim(crisis.id, "ben")
        assert e.get(crisis.id).stage == "c2_waiting"
    finally:
        e.dispose()


def test_caseloads_by_team(council):
    e = council
    e.claim(waiting(e, "P-1", "2026-05-01").id, "ben")
    rows = e.caseloads()
    assert [(r["worker"], r["team"], r["caseload"], r["cap"]) for r in rows] == [
        ("amira", "north", 0, 3), ("ben", "north", 1, 35), ("cara", "south", 0, 35)]
    assert [r["worker"] for r in e.caseloads("south")] == ["cara"]


def test_duty_commands(council, db_url, monkeypatch):
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    monkeypatch.delenv("PATHWAY_CONFIG_FILE", raising=False)
    first = waiting(council, "P-1", "2026-05-01")
    second = waiting(council, "P-2", "2026-05-02", priority="high")
    run = CliRunner().invoke
    out = run(app, ["duty", "queue", "--team", "north", "--format", "csv"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("position,id,person_ref")
    assert [line.split(",")[2] for line in lines[1:]] == ["P-2", "P-1"]
    out = run(app, ["duty", "claim", "--worker", "ben", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"worker": "ben"' in out.output and f'"id": {second.id}' in out.output
    assert council.history(second.id)[-1]["actor"] == "ben"
    out = run(app, ["duty", "claim", "--worker", "amira", "--episode", str(second.id)])
    assert out.exit_code == 1 and "already taken by ben" in out.output
    out = run(app, ["duty", "claim", "--worker", "amira", "--episode", str(first.id)])
    assert out.exit_code == 0 and council.get(first.id).worker == "amira"
    out = run(app, ["duty", "claim", "--worker", "amira"])
    assert out.exit_code == 0 and "nothing waiting in team north" in out.output
    out = run(app, ["duty", "queue", "--team", "north"])
    assert out.exit_code == 0 and "nothing waiting in team north" in out.output
    out = run(app, ["duty", "queue", "--team", "east"])
    assert out.exit_code == 1 and "unknown team 'east'; teams are: north, south" in out.output
    out = run(app, ["duty", "claim", "--worker", "nobody"])
    assert out.exit_code == 1 and "unknown worker 'nobody'" in out.output
