"""The workforce on a real database: skills and matching, absences and release_all, line management,
supervision and its report, the caseload report's absences, and the audit log."""

import datetime as dt

import pytest
import sqlalchemy as sa

from pathway import CaseloadFull, Conflict, Engine, Forbidden, NotFound, ValidationError
from pathway.services.workforce import nobody_can_take
from pathway.settings import Settings
from pathway.store.tables import ABSENCE, EPISODE_WEIGHT, EVENT, SUPERVISION, WORKER_SKILL, WORKFORCE_EVENT

RULES = [{"client_group": "learning_disability", "skill": "learning_disability"},
         {"client_group": "mental_health", "skill": "mental_health"},
         # in team south, mental health needs no specialist except in conversation 3
         {"client_group": "mental_health", "skill": "autism", "team": "south", "stage": "c3_waiting"}]


@pytest.fixture
def settings():
    return Settings(_env_file=None, workforce={"require": RULES})


def waiting(engine, ref, group, at, team="north", priority="normal"):
    ep = engine.record_contact(ref, group, team, occurred_at=at, priority=priority)
    return engine.fire(ep.id, "refer", occurred_at=at)


@pytest.fixture
def desk(council):
    """North: amira (cap 3, learning disability), ben (no skills), dina (a manager, mental health)."""
    e = council
    e.create_worker(key="dina", name="Dina", team="north", caseload_cap=10)
    e.workforce.update("dina", role="manager", actor="admin:root")
    e.workforce.set_skills("amira", ["learning_disability"], actor="admin:root")
    e.workforce.set_skills("dina", ["mental_health"], actor="admin:root")
    return e


def table_counts(engine):
    with engine.db.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (EVENT, ABSENCE, SUPERVISION, WORKER_SKILL, WORKFORCE_EVENT, EPISODE_WEIGHT))


# -- skills and matching -------------------------------------------------------------------------

def test_claim_next_gives_a_worker_only_people_they_are_skilled_for_in_claim_order(desk):
    e = desk
    ld_old = waiting(e, "LD-901", "learning_disability", "2026-05-01")
    mh = waiting(e, "MH-1", "mental_health", "2026-05-02")
    phys = waiting(e, "PS-1", "physical_support", "2026-05-03")
    ld_new = waiting(e, "LD-907", "learning_disability", "2026-05-04")
    assert [ep.id for ep in e.queue("north")] == [ld_old.id, mh.id, phys.id, ld_new.id]
    # ben has no skills: only the physical support contact, though two people wait longer
    assert e.claim_next("north", "ben").id == phys.id
    assert e.claim_next("north", "ben") is None  # nothing he is skilled for: not an error
    # amira takes the learning disability people, oldest first, and never the mental health one
    assert e.claim_next("north", "amira").id == ld_old.id
    assert e.claim_next("north", "amira").id == ld_new.id
    assert e.claim_next("north", "amira") is None
    assert e.claim_next("north", "dina").id == mh.id


def test_named_claim_and_manager_allocation_of_an_unskilled_worker_are_refused_unless_overridden(desk):
    e = desk
    ld = waiting(e, "LD-1", "learning_disability", "2026-05-01")
    before = table_counts(e)
    with pytest.raises(Forbidden, match="'learning_disability'") as refused:
        e.claim(ld.id, "ben")
    assert refused.value.extra["skill"] == "learning_disability"
    with pytest.raises(Forbidden, match="override"):
        e.fire(ld.id, "allocate", worker="ben", actor="manager:north:Dina")
    assert table_counts(e) == before  # nothing written
    ep = e.fire(ld.id, "allocate", worker="ben", override="only worker free before the hearing",
                actor="manager:north:Dina")
    assert ep.worker == "ben" and ep.stage == "c1_active"
    last = e.history(ld.id)[-1]
    assert last["data"]["override"] == "only worker free before the hearing"
    assert last["actor"] == "manager:north:Dina" and last["allocation"] == "manager"
    assert e.replay(ld.id) == e.get(ld.id)


def test_override_is_given_only_with_allocate(desk):
    ep = waiting(desk, "PS-1", "physical_support", "2026-05-01")
    before = table_counts(desk)
    with pytest.raises(ValidationError, match="override is given only with allocate, not with close"):
        desk.fire(ep.id, "close", outcome="declined", override="because")
    with pytest.raises(ValidationError, match="override is given only with allocate, not with note"):
        desk.fire(ep.id, "note", note="rang the family", override="because")
    assert table_counts(desk) == before


def test_the_most_specific_rule_decides(desk):
    e = desk
    e.create_worker(key="sol", name="Sol", team="south")
    mh_south = waiting(e, "MH-902", "mental_health", "2026-05-01", team="south")
    # in south, the team and stage rule applies only in c3; in c1 the council-wide rule asks mental health
    with pytest.raises(Forbidden, match="'mental_health'"):
        e.claim(mh_south.id, "sol")
    e.workforce.set_skills("sol", ["mental_health"])
    ep = e.claim(mh_south.id, "sol")
    ep = e.fire(ep.id, "plan")  # on to c3's queue, where south asks autism
    with pytest.raises(Forbidden, match="'autism'"):
        e.claim(ep.id, "sol")


def test_the_queue_counts_who_on_duty_could_take_each_person_and_names_the_gaps(desk):
    e = desk
    ld = waiting(e, "LD-1", "learning_disability", "2026-05-01")
    mh = waiting(e, "MH-1", "mental_health", "2026-05-02")
    ps = waiting(e, "PS-1", "physical_support", "2026-05-03")
    takers = {ep.id: ep.takers for ep in e.queue("north")}
    assert takers == {ld.id: 1, mh.id: 1, ps.id: 3}  # amira; dina; amira, ben and dina
    e.workforce.add_absence("dina", "2026-06-01", "2026-06-05", "leave")
    queue = e.queue("north")
    assert {ep.id: ep.takers for ep in queue} == {ld.id: 1, mh.id: 0, ps.id: 2}
    assert nobody_can_take(e.settings, queue) == [
        {"client_group": "mental_health", "stage": "c1_waiting", "skill": "mental_health", "waiting": 1}]
    # amira at cap (3) cannot take another learning disability person either
    for i in range(3):
        e.claim(waiting(e, f"PS-{i}A", "physical_support", "2026-05-04").id, "amira")
    assert {ep.id: ep.takers for ep in e.queue("north")}[ld.id] == 0
    # a crisis may be taken over cap (caseload.crisis_over_cap): amira could take a learning disability crisis
    crisis = waiting(e, "LD-908", "learning_disability", "2026-05-05", priority="crisis")
    assert {ep.id: ep.takers for ep in e.queue("north")}[crisis.id] == 1


def test_a_skill_not_configured_is_refused_and_nothing_written(desk):
    before = table_counts(desk)
    with pytest.raises(ValidationError, match="unknown skill 'juggling'; skills are: learning_disability"):
        desk.workforce.set_skills("ben", ["mental_health", "juggling"])
    assert table_counts(desk) == before
    assert desk.workforce.profile("ben")["skills"] == []


def test_settings_refuse_a_rule_naming_an_unknown_skill_or_stage():
    with pytest.raises(ValueError, match="not in workforce.skills"):
        Settings(_env_file=None, workforce={"require": [{"client_group": "autism", "skill": "juggling"}]})
    with pytest.raises(ValueError, match="a rule's stage is one of"):
        Settings(_env_file=None, workforce={"require": [{"client_group": "autism", "skill": "autism",
                                                         "stage": "c1_active"}]})


# -- absences and release_all ----------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "message"), [
    ("2026-06-10", "2026-06-09", "ends .2026-06-09. before it starts"),
    ("2027-06-02", "2027-06-03", "more than 365 days ahead"),
    ("2026-06-04", "2026-06-20", "overlaps another"),
    ("2026-05-20", "2026-06-01", "overlaps another"),
    ("2026-06-07", "not a date", "end: 'not a date' is not a date"),
])
def test_bad_absences_are_refused_and_nothing_written(desk, start, end, message):
    desk.workforce.add_absence("ben", "2026-06-01", "2026-06-05", "sickness")
    before = table_counts(desk)
    with pytest.raises(ValidationError, match=message):
        desk.workforce.add_absence("ben", start, end, "leave")
    assert table_counts(desk) == before


def test_an_absence_reason_is_a_category(desk):
    with pytest.raises(ValidationError, match="reasons are: leave, sickness, training, other .a category only"):
        desk.workforce.add_absence("ben", "2026-06-01", "2026-06-02", "broken leg")


def test_an_absent_worker_cannot_claim_or_be_allocated_to(desk):
    e = desk
    ps = waiting(e, "PS-1", "physical_support", "2026-05-01")
    e.workforce.add_absence("ben", "2026-06-01", "2026-06-01", "training", actor="manager:north:Dina")
    with pytest.raises(Forbidden, match="'ben' is away"):
        e.claim_next("north", "ben")
    with pytest.raises(Forbidden, match="'ben' is away"):
        e.claim(ps.id, "ben")
    with pytest.raises(Forbidden, match="'ben' is away"):
        e.fire(ps.id, "allocate", worker="ben")
    e.clock.advance(days=1)  # the absence was one day
    assert e.claim_next("north", "ben").id == ps.id


def test_release_all_puts_a_workers_people_back_in_the_queue_keeping_their_place(desk, clock):
    e = desk
    eps = [waiting(e, f"PS-{i}", "physical_support", f"2026-05-0{i + 1}") for i in range(3)]
    for ep in eps[:2]:
        e.claim(ep.id, "ben")
    other = e.claim(eps[2].id, "amira")
    clock.advance(days=2)
    released = e.release_all("ben", "sickness", actor="manager:north:Dina")
    assert [ep.id for ep in released] == [eps[0].id, eps[1].id]
    assert all(ep.stage == "c1_waiting" and ep.worker is None for ep in released)
    # the clock is not reset: they are first in the queue, by their contact
    assert [ep.id for ep in e.queue("north")][:2] == [eps[0].id, eps[1].id]
    assert all(ep.wait_from == e.get(ep.id).contact_at for ep in released)
    for ep in released:
        last = e.history(ep.id)[-1]
        assert (last["trigger"], last["data"], last["actor"]) == ("release", {"reason": "sickness"},
                                                                 "manager:north:Dina")
        assert e.replay(ep.id) == e.get(ep.id)
    assert e.get(other.id).worker == "amira"
    assert [r["caseload"] for r in e.caseloads("north") if r["worker"] == "ben"] == [0]
    # a manager reallocates them one by one
    assert e.fire(eps[0].id, "allocate", worker="amira").worker == "amira"
    assert e.workforce.log("ben")[-1]["data"] == {"reason": "sickness", "episodes": [eps[0].id, eps[1].id]}


def test_release_all_with_a_reason_not_in_the_list_changes_nothing(desk):
    e = desk
    e.claim(waiting(e, "PS-1", "physical_support", "2026-05-01").id, "ben")
    before = table_counts(e)
    with pytest.raises(ValidationError, match="unknown reason 'flu'"):
        e.release_all("ben", "flu")
    with pytest.raises(NotFound):
        e.release_all("nobody", "leave")
    assert table_counts(e) == before


def test_caseloads_show_who_is_away(desk):
    desk.workforce.add_absence("ben", "2026-05-30", "2026-06-03", "leave")
    rows = {r["worker"]: r for r in desk.caseloads("north")}
    assert (rows["ben"]["away"], rows["ben"]["away_until"]) == ("leave", dt.date(2026, 6, 3))
    assert rows["amira"]["away"] is None
    report = {r["worker"]: r for r in desk.reports.caseloads(team="north")}
    assert report["ben"]["away"] == "leave"
    assert desk.reports.caseloads(team="north", by="team")[0]["away"] == 1


# -- line management and supervision ---------------------------------------------------------------

def test_line_management_refuses_non_managers_self_and_cycles(desk):
    e = desk
    e.create_worker(key="ola", name="Ola", team="north")
    e.workforce.update("ola", role="manager")
    before = table_counts(e)
    with pytest.raises(ValidationError, match="'ben' is not a manager"):
        e.workforce.update("amira", line_manager="ben")
    with pytest.raises(ValidationError, match="own line manager"):
        e.workforce.update("dina", line_manager="dina")
    with pytest.raises(ValidationError, match="unknown worker role 'boss'"):
        e.workforce.update("ben", role="boss")
    with pytest.raises(ValidationError, match="fte must be a number above 0 and at most 1"):
        e.workforce.update("ben", fte=1.5)
    with pytest.raises(ValidationError, match="fte must be"):
        e.workforce.update("ben", fte=0)
    assert table_counts(e) == before
    e.workforce.update("dina", line_manager="ola")
    with pytest.raises(ValidationError, match="cycle"):
        e.workforce.update("ola", line_manager="dina")
    with pytest.raises(ValidationError, match="line-manages other workers"):
        e.workforce.update("ola", role="practitioner")
    profile = e.workforce.update("ben", line_manager="dina", fte=0.6, actor="manager:north:Dina")
    assert (profile["line_manager"], profile["fte"]) == ("dina", 0.6)
    assert [(x["kind"], x["actor"]) for x in e.workforce.log("ben")][-2:] == [
        ("fte", "manager:north:Dina"), ("line_manager", "manager:north:Dina")]


def test_bad_supervisions_are_refused_and_nothing_written(desk):
    before = table_counts(desk)
    with pytest.raises(ValidationError, match="minutes must be a whole number from 1"):
        desk.workforce.record_supervision("ben", "dina", "2026-05-01", 0)
    with pytest.raises(ValidationError, match="in the future"):
        desk.workforce.record_supervision("ben", "dina", "2026-06-02", 90)
    with pytest.raises(ValidationError, match="supervisor 'amira' is not a manager"):
        desk.workforce.record_supervision("ben", "amira", "2026-05-01", 90)
    with pytest.raises(NotFound, match="no worker 'zed'"):
        desk.workforce.record_supervision("ben", "zed", "2026-05-01", 90)
    assert table_counts(desk) == before


def test_supervision_report_on_hand_computed_sessions(desk):
    """As at 2026-06-01 the rolling year is 2025-06-02 .. 2026-06-01 (45 days makes a supervision overdue)."""
    e = desk
    sup = e.workforce.record_supervision
    # ben: 8 sessions of 120 minutes inside the year (the last on 2026-05-20), one short, one too old
    for month in range(8):
        sup("ben", "dina", dt.date(2025, 10 + month, 20) if month < 3 else dt.date(2026, month - 2, 20), 120,
            sampled=month == 0)
    sup("ben", "dina", "2026-05-30", 60)
    sup("ben", "dina", "2025-06-01", 120)  # a year and a day ago: outside
    # amira: 2 long sessions, the last 2026-04-01 (61 days before): overdue
    sup("amira", "dina", "2026-03-01", 150)
    sup("amira", "dina", "2026-04-01", 120)
    for w in ("amira", "ben"):
        e.workforce.update(w, line_manager="dina")
    rows = {r["worker"]: r for r in e.reports.supervision(as_at="2026-06-01", team="north")}
    assert {k: rows["ben"][k] for k in ("sessions", "full_sessions", "hours", "sampled", "last_session",
                                          "meets_standard", "overdue", "line_manager", "standard_sessions",
                                          "standard_minutes")} == {
        "sessions": 9, "full_sessions": 8, "hours": 17.0, "sampled": 1, "last_session": dt.date(2026, 5, 30),
        "meets_standard": True, "overdue": False, "line_manager": "dina", "standard_sessions": 8,
        "standard_minutes": 120}
    assert {k: rows["amira"][k] for k in ("sessions", "full_sessions", "hours", "meets_standard", "overdue")} == {
        "sessions": 2, "full_sessions": 2, "hours": 4.5, "meets_standard": False, "overdue": True}
    assert rows["dina"]["sessions"] == 0 and rows["dina"]["overdue"] is True
    assert e.reports.supervision(as_at="2026-06-01", team="north", by="manager") == [
        {"manager": "dina", "team": "north", "direct_reports": 2, "span_limit": 10, "over_span": False}]
    with pytest.raises(ValidationError, match="use 'worker' or 'manager'"):
        e.reports.supervision(by="team")
    assert [s["sampled"] for s in e.workforce.supervisions("ben")][:3] == [False, True, False]  # oldest first


def test_span_of_control_is_flagged_when_over(db_url, clock):
    e = Engine(db_url, settings=Settings(_env_file=None, workforce={"span_of_control": 2}), clock=clock)
    e.create_team(key="north", name="North")
    e.create_worker(key="mo", name="Mo", team="north")
    e.workforce.update("mo", role="manager")
    for w in ("a", "b", "c"):
        e.create_worker(key=w, name=w.upper(), team="north")
        e.workforce.update(w, line_manager="mo")
    [row] = e.reports.supervision(as_at="2026-06-01", by="manager")
    assert (row["direct_reports"], row["span_limit"], row["over_span"]) == (3, 2, True)
    e.dispose()


# -- weighted caseloads and FTE --------------------------------------------------------------------

def weighted_engine(db_url, clock, weighting=True):
    e = Engine(db_url, settings=Settings(_env_file=None, workforce={"weighting": weighting}), clock=clock)
    e.create_team(key="north", name="North")
    e.create_worker(key="amira", name="Amira", team="north", caseload_cap=4)
    e.workforce.update("amira", fte=0.5)
    return e


def test_without_weighting_fte_and_weights_change_nothing(db_url, clock):
    e = weighted_engine(db_url, clock, weighting=False)
    eps = [waiting(e, f"PS-{i}", "physical_support", "2026-05-01") for i in range(5)]
    e.workforce.reweigh(eps[0].id, 3, "complex family")
    for _ in range(4):  # the cap of 4, counted, whatever the FTE and weights
        assert e.claim_next("north", "amira") is not None
    with pytest.raises(CaseloadFull, match="a caseload of 4 and a cap of 4"):
        e.claim_next("north", "amira")
    e.dispose()


def test_with_weighting_the_weighted_caseload_meets_cap_times_fte(db_url, clock):
    e = weighted_engine(db_url, clock)
    eps = [waiting(e, f"PS-{i}", "physical_support", "2026-05-01") for i in range(4)]
    assert e.claim_next("north", "amira").id == eps[0].id
    assert e.claim(eps[1].id, "amira").id == eps[1].id  # weight 2 of a cap of 4 x 0.5
    with pytest.raises(CaseloadFull, match="a weighted caseload of 2 and a cap of 2 .FTE 0.5."):
        e.claim_next("north", "amira")
    with pytest.raises(CaseloadFull):
        e.fire(eps[2].id, "allocate", worker="amira")
    assert [ep.takers for ep in e.queue("north")] == [0, 0]  # her weight is at cap x FTE
    e.workforce.reweigh(eps[0].id, 0.5, "a simple review", actor="manager:north:Nadia")
    assert [ep.takers for ep in e.queue("north")] == [1, 1]
    assert e.claim_next("north", "amira").id == eps[2].id  # 1.5 < 2: room for one more
    row = {r["worker"]: r for r in e.caseloads("north")}["amira"]
    assert {k: row[k] for k in ("caseload", "weight", "fte", "cap", "free", "over_cap")} == {
        "caseload": 3, "weight": 2.5, "fte": 0.5, "cap": 2.0, "free": 0, "over_cap": True}
    [team] = e.reports.caseloads(team="north", by="team")
    assert (team["caseload"], team["weight"], team["capacity"], team["over_cap"]) == (3, 2.5, 2.0, 1)
    assert e.workforce.log("amira")[-1] == {**e.workforce.log("amira")[-1], "kind": "reweigh",
                                            "actor": "manager:north:Nadia",
                                            "data": {"episode_id": eps[0].id, "weight": 0.5,
                                                     "reason": "a simple review"}}
    e.dispose()


def test_a_manager_allocates_a_person_already_weighed(db_url, clock):
    e = weighted_engine(db_url, clock)
    eps = [waiting(e, f"PS-{i}", "physical_support", "2026-05-01") for i in range(3)]
    ep = e.fire(eps[0].id, "allocate", worker="amira", weight=2, weight_reason="court work",
                actor="manager:north:Nadia")
    assert (ep.stage, ep.worker) == ("c1_active", "amira")
    row = {r["worker"]: r for r in e.caseloads("north")}["amira"]
    assert {k: row[k] for k in ("caseload", "weight", "cap", "free", "over_cap")} == {
        "caseload": 1, "weight": 2.0, "cap": 2.0, "free": 0, "over_cap": False}
    last = e.history(ep.id)[-1]
    assert (last["trigger"], last["data"]) == ("allocate", {"weight": 2.0, "weight_reason": "court work"})
    assert e.workforce.log("amira")[-1] == {**e.workforce.log("amira")[-1], "kind": "reweigh",
                                            "actor": "manager:north:Nadia",
                                            "data": {"episode_id": ep.id, "weight": 2.0, "reason": "court work",
                                                     "trigger": "allocate"}}
    assert e.replay(ep.id) == e.get(ep.id)
    # a claim never weighs: the next claim is refused at the weighted cap, and claims write no weight
    with pytest.raises(CaseloadFull, match="a weighted caseload of 2 and a cap of 2"):
        e.claim_next("north", "amira")
    e.workforce.update("amira", fte=1.0)
    before = table_counts(e)
    assert e.claim(eps[1].id, "amira").worker == "amira"
    assert table_counts(e)[-1] == before[-1]
    e.dispose()


def test_an_allocation_whose_weight_would_pass_cap_times_fte_is_refused_and_nothing_written(db_url, clock):
    e = weighted_engine(db_url, clock)  # amira: cap 4 x FTE 0.5 = 2
    first, second = (waiting(e, f"PS-{i}", "physical_support", "2026-05-01") for i in range(2))
    e.claim(first.id, "amira")  # a weighted caseload of 1
    before = table_counts(e)
    with pytest.raises(CaseloadFull, match="no room for episode .* at weight 2 .it would take them to 3."):
        e.fire(second.id, "allocate", worker="amira", weight=2, weight_reason="court work")
    assert table_counts(e) == before  # no event, no weight, no workforce event
    assert e.get(second.id).stage == "c1_waiting"
    # an ordinary case is the rule it always was: a worker under cap takes it
    ep = e.fire(second.id, "allocate", worker="amira", weight=1, weight_reason="an ordinary review")
    assert ep.worker == "amira"
    assert {r["worker"]: r for r in e.caseloads("north")}["amira"]["weight"] == 2.0
    e.dispose()


def test_without_weighting_an_allocation_weight_is_recorded_and_the_cap_counts_episodes(db_url, clock):
    e = weighted_engine(db_url, clock, weighting=False)  # amira: cap 4, counted
    eps = [waiting(e, f"PS-{i}", "physical_support", "2026-05-01") for i in range(5)]
    for ep in eps[:3]:
        e.fire(ep.id, "allocate", worker="amira", weight=4, weight_reason="complex family")
    assert e.fire(eps[3].id, "allocate", worker="amira", weight=4, weight_reason="complex family").worker == "amira"
    with pytest.raises(CaseloadFull, match="a caseload of 4 and a cap of 4"):
        e.fire(eps[4].id, "allocate", worker="amira", weight=0.25, weight_reason="a simple review")
    row = {r["worker"]: r for r in e.caseloads("north")}["amira"]
    assert (row["caseload"], row["weight"], row["cap"]) == (4, 16.0, 4)
    e.dispose()


def test_bad_weights_at_allocation_are_refused_and_nothing_written(db_url, clock):
    e = weighted_engine(db_url, clock)
    ep = waiting(e, "PS-1", "physical_support", "2026-05-01")
    before = table_counts(e)
    for weight in (5, 0.1, 0, True, "2"):
        with pytest.raises(ValidationError, match="weight must be a number from 0.25 to 4"):
            e.fire(ep.id, "allocate", worker="amira", weight=weight, weight_reason="complex")
    with pytest.raises(ValidationError, match="weight_reason is required"):
        e.fire(ep.id, "allocate", worker="amira", weight=2)
    with pytest.raises(ValidationError, match="weight_reason is required"):
        e.fire(ep.id, "allocate", worker="amira", weight=2, weight_reason=" ")
    with pytest.raises(ValidationError, match="weight_reason goes with weight"):
        e.fire(ep.id, "allocate", worker="amira", weight_reason="complex")
    for trigger, fields in (("close", {"outcome": "declined"}), ("release", {}), ("note", {"note": "rang"}),
                            ("flag", {"reason": "stuck"})):
        with pytest.raises(ValidationError, match=f"weight is given only with allocate, not with {trigger}"):
            e.fire(ep.id, trigger, weight=2, weight_reason="complex", **fields)
    assert table_counts(e) == before
    assert e.get(ep.id).stage == "c1_waiting"
    e.dispose()


def test_a_repeated_allocation_key_with_another_weight_is_a_conflict(db_url, clock):
    e = weighted_engine(db_url, clock)
    e.workforce.update("amira", fte=1.0)
    ep = waiting(e, "PS-1", "physical_support", "2026-05-01")
    first = e.fire(ep.id, "allocate", worker="amira", weight=2, weight_reason="court work", idempotency_key="a-1")
    # the same request again (2 and 2.0 are one weight) is answered as the first was, with nothing written
    before = table_counts(e)
    assert e.fire(ep.id, "allocate", worker="amira", weight=2.0, weight_reason="court work",
                  idempotency_key="a-1") == first
    assert table_counts(e) == before
    for other in ({"weight": 3, "weight_reason": "court work"}, {"weight": 2, "weight_reason": "another"}, {}):
        with pytest.raises(Conflict, match="idempotency_key 'a-1' was already used"):
            e.fire(ep.id, "allocate", worker="amira", idempotency_key="a-1", **other)
    assert table_counts(e) == before
    e.dispose()


def test_bad_weights_are_refused_and_nothing_written(db_url, clock):
    e = weighted_engine(db_url, clock)
    ep = waiting(e, "PS-1", "physical_support", "2026-05-01")
    before = table_counts(e)
    with pytest.raises(ValidationError, match="weight must be a number from 0.25 to 4"):
        e.workforce.reweigh(ep.id, 5, "very complex")
    with pytest.raises(ValidationError, match="reason is required"):
        e.workforce.reweigh(ep.id, 2, " ")
    e.fire(ep.id, "close", outcome="declined")
    with pytest.raises(ValidationError, match="is closed"):
        e.workforce.reweigh(ep.id, 2, "too late")
    with pytest.raises(NotFound):
        e.workforce.reweigh(99999, 2, "no such episode")
    assert table_counts(e)[1:] == before[1:]  # the close wrote an event; the refusals nothing
    e.dispose()
