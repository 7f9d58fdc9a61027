"""Property: every figure of ``waits`` and ``allocation`` equals a plain-Python computation from the
raw event log, for random small councils, on SQLite and PostgreSQL, with days counted in one mode asked
for or in each stage's own mode as random settings give them.

The reference reads only the ``event`` rows and each episode's groupings and uses the standard
library's ``statistics`` (median, inclusive quantiles) for the percentiles, so it shares no code
with the SQL it checks.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pathway.domain import days
from pathway.domain.commands import Move
from pathway.domain.stages import CLOCKED
from pathway.errors import PathwayError
from pathway.services import episodes
from pathway.settings import Settings
from pathway.store.tables import Episode, Event

NOW = dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.UTC)
FIRST = dt.date(2026, 4, 1)
GROUPS = ["learning_disability", "mental_health", "physical_support"]
TEAMS = {"north": ["amira", "ben"], "south": ["cara"]}
# Weighted towards the moves that make waits and allocations; the rest still come up.
MOVES = ["refer"] * 3 + ["allocate"] * 3 + ["allocate_self"] * 2 + [
    "release", "crisis", "crisis_keep", "stabilise", "stabilise_c3", "plan", "close", "resolve"]

episode_plan = st.tuples(
    st.sampled_from(GROUPS), st.sampled_from(sorted(TEAMS)), st.sampled_from(["high", "normal"]),
    st.integers(0, 70),  # contact day after FIRST
    st.integers(0, 23),  # contact hour (UTC): 23:00 UTC is the next day in London
    st.sampled_from([True, True, True, False]),  # referred on at once
    st.lists(st.tuples(st.sampled_from(MOVES), st.integers(0, 9), st.integers(0, 23)), max_size=6),
)
council_plan = st.lists(episode_plan, min_size=1, max_size=10)
groupings = st.lists(st.sampled_from(["client_group", "stage", "team", "priority"]), unique=True, max_size=2)
MODES = ["calendar", "working"]
# A day mode asked for (every stage counts in it), or the council's day_mode and day_mode_by_stage settings.
day_modes = st.one_of(st.sampled_from(MODES), st.tuples(
    st.sampled_from(MODES), st.dictionaries(st.sampled_from(CLOCKED), st.sampled_from(MODES), max_size=2)))


def one_decimal(x) -> float | None:
    if x is None:
        return None
    return float(Decimal(repr(float(x))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def figures(values: list[int]) -> tuple:
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def build(engine, plan) -> None:
    for key, workers in TEAMS.items():
        engine.create_team(key, key.title())
        for w in workers:
            engine.create_worker(w, w.title(), key)
    for i, (group, team, priority, day, hour, referred, moves) in enumerate(plan):
        when = dt.datetime.combine(FIRST + dt.timedelta(days=day), dt.time(hour), tzinfo=dt.UTC)
        if when > NOW:
            continue
        ep = engine.record_contact(f"P-{i % 5}", group, team, occurred_at=when, priority=priority).id
        for move, gap, move_hour in ([("refer", 0, hour)] if referred else []) + moves:
            when = dt.datetime.combine(days.london_date(when) + dt.timedelta(days=gap), dt.time(move_hour),
                                       tzinfo=dt.UTC)
            when = max(when, engine.get(ep).stage_at)
            if when > NOW:
                break
            worker = TEAMS[team][gap % len(TEAMS[team])]
            kw = {"occurred_at": when}
            try:
                if move == "allocate_self":
                    with engine.store.unit() as uow:
                        episodes.move(uow, engine.settings, ep, Move("allocate", worker=worker, occurred_at=when),
                                      allocation="self", actor="test", now=engine.now())
                    continue
                if move == "allocate":
                    kw["worker"] = worker
                elif move in ("close", "resolve"):
                    kw["outcome"] = "met_at_c1"
                elif move == "crisis_keep":
                    move, kw["keep_worker"] = "crisis", True
                elif move == "stabilise_c3":
                    move, kw["to"] = "stabilise", "c3"
                engine.fire(ep, move, **kw)
            except PathwayError:
                pass  # a move the pathway does not allow from here: nothing was written


def log(engine) -> tuple[list[dict], dict]:
    with engine.transaction(write=False) as conn:
        events = [dict(r) for r in conn.execute(sa.select(Event.__table__)).mappings()]
        episodes = {r.id: r for r in conn.execute(sa.select(Episode.__table__))}
    return events, episodes


def key_of(ep, stage, group_by):
    values = {"client_group": ep.client_group, "team": ep.team, "priority": ep.priority, "stage": stage}
    return tuple(values[g] for g in group_by)


def count(start: dt.date, end: dt.date, mode: str) -> int:
    return days.days_between(start, end, mode)


def expected_waits(events, episodes, as_at, group_by, mode_of, settings_):
    last = {}
    for e in events:
        if e["occurred_on"] <= as_at and (e["episode_id"] not in last or e["seq"] > last[e["episode_id"]]["seq"]):
            last[e["episode_id"]] = e
    groups = defaultdict(list)
    over = defaultdict(int)
    for episode_id, e in last.items():
        if e["to_stage"] in CLOCKED:
            ep = episodes[episode_id]
            n = count(e["wait_from_on"], as_at, mode_of(e["to_stage"]))
            k = key_of(ep, e["to_stage"], group_by)
            groups[k].append(n)
            over[k] += n > settings_.threshold(e["to_stage"], ep.client_group)
    out = {}
    for k, values in groups.items():
        median, p90 = figures(values)
        out[k] = {"waiting": len(values), "median_days": one_decimal(median), "p90_days": one_decimal(p90),
                  "max_days": max(values), "over_threshold": over[k]}
    return out


def expected_allocation(events, episodes, start, end, group_by, mode_of):
    groups = defaultdict(list)
    kinds = defaultdict(lambda: {"self": 0, "manager": 0})
    for e in events:
        if e["trigger"] == "allocate" and e["first_allocation"] and start <= e["occurred_on"] <= end:
            k = key_of(episodes[e["episode_id"]], e["from_stage"], group_by)
            groups[k].append(count(e["wait_from_on"], e["occurred_on"], mode_of(e["from_stage"])))
            kinds[k][e["allocation"]] += 1
    out = {}
    for k, values in groups.items():
        median, p90 = figures(values)
        mean = Decimal(sum(values)) / Decimal(len(values))
        out[k] = {"allocated": len(values),
                  "mean_days": float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
                  "median_days": one_decimal(median), "p90_days": one_decimal(p90),
                  "self_allocated": kinds[k]["self"], "manager_allocated": kinds[k]["manager"]}
    return out


def clear(engine) -> None:
    with engine.transaction() as conn:
        for table in ("outbox", "episode_progress", "event", "episode", "worker", "team"):
            conn.execute(sa.text(f"DELETE FROM {table}"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(plan=council_plan, group_by=groupings, as_at_day=st.integers(10, 90), span=st.tuples(
    st.integers(0, 60), st.integers(0, 60)), mode=day_modes)
def test_reports_equal_a_plain_computation_from_the_event_log(engine, clock, plan, group_by, as_at_day, span,
                                                               mode):
    if isinstance(mode, str):  # asked for: every stage's days in it
        asked = mode

        def mode_of(stage):
            return asked
    else:  # the settings: a stage's own mode (the front door's working by default), else the council's
        asked = None
        council = Settings(_env_file=None, day_mode=mode[0], day_mode_by_stage=mode[1])
        engine.settings.day_mode, engine.settings.day_mode_by_stage = council.day_mode, council.day_mode_by_stage

        def mode_of(stage):
            return {"contact": "working", **mode[1]}.get(stage, mode[0])
    clock.set(NOW)
    clear(engine)
    build(engine, plan)
    events, episodes = log(engine)
    as_at = FIRST + dt.timedelta(days=as_at_day)
    start = FIRST + dt.timedelta(days=span[0])
    end = start + dt.timedelta(days=span[1])

    rows = engine.reports.waits(group_by=group_by, as_at=as_at, day_mode=asked)
    want = expected_waits(events, episodes, as_at, group_by, mode_of, engine.settings)
    event(f"waiting groups: {min(len(want), 3)}+")
    zero = {"waiting": 0, "median_days": None, "p90_days": None, "max_days": None, "over_threshold": 0}
    for row in rows:
        k = tuple(row[g] for g in group_by)
        assert {f: row[f] for f in zero} == want.pop(k, zero), (k, as_at, mode)
    assert want == {}  # no waiting group was left out of the report

    rows = engine.reports.allocation(group_by=group_by, start=start, end=end, day_mode=asked)
    want = expected_allocation(events, episodes, start, end, group_by, mode_of)
    event(f"allocation groups: {min(len(want), 3)}+")
    zero = {"allocated": 0, "mean_days": None, "median_days": None, "p90_days": None, "self_allocated": 0,
            "manager_allocated": 0}
    for row in rows:
        k = tuple(row[g] for g in group_by)
        assert {f: row[f] for f in zero} == want.pop(k, zero), (k, start, end, mode)
    assert want == {}
