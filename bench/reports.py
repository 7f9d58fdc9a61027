"""Reports at council scale: ``waits`` by client group × stage today, and ``allocation`` for a year,
against the floor of one hand-written PostgreSQL query computing the same numbers, in the same run.

The floor reads the episode projection for today's waits (``stage IN (…waiting)``, London dates
by ``AT TIME ZONE``, the front door's days in working days from the ``calendar_day`` table as the
engine's default counts them) and PostgreSQL's own ``percentile_cont``; the engine answers from the event
log with its portable SQL (the same query runs on SQLite). Both are run ``REPEAT`` times, taking
turns, each on its own pooled connection, and the best time of each is kept: by then psycopg has prepared
each side's statement and PostgreSQL has settled on its plan, as for a board asking every minute.
The figures are checked equal before anything is printed.

The synthetic council is loaded with COPY: episodes built by the engine's own fold
(pathway.domain.episode), so the rows are what the engine would have written.

    python -m bench.reports --size small      # 20,000 episodes over 2 years
    python -m bench.reports --size council    # 1,000,000 episodes over 10 years (~4.5 M events)
    python -m bench.reports --size council --database-url URL   # measure a council loaded before
                                                                # (this one, or bench.council's)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import random
import statistics

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from pathway import Engine
from pathway.domain import days
from pathway.domain.episode import Fact, apply, start
from pathway.settings import CLIENT_GROUPS, Settings
from pathway.store.db import make_engine
from pathway.store.episodes import event_row, state_values
from pathway.store.reports import REPORT_SESSION

EPISODES = {"small": 20_000, "council": 1_000_000, "decade": 1_000_000}
YEARS = {"small": 2, "council": 10, "decade": 10}
END = dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC)
TEAMS = ["north", "south", "east", "west"]
WORKERS_PER_TEAM = 12
REPEAT = 15
GOAL = 0.77  # within 1.3× of the floor
# Mean days to allocation in conversation 1: the groups scrutiny panels ask about wait longer.
MEAN_WAIT = {"learning_disability": 16, "mental_health": 14, "memory_and_cognition": 11}
GROUP_WEIGHTS = [("physical_support", 30), ("sensory_support", 5), ("memory_and_cognition", 15),
                 ("learning_disability", 10), ("mental_health", 15), ("social_support", 15), ("unknown", 10)]


def _episode_facts(rng: random.Random, i: int, at: dt.datetime) -> list[Fact]:
    """One person's episode: resolved at contact, conversation 1 (perhaps on to 3), or a crisis."""
    group = rng.choices([g for g, _ in GROUP_WEIGHTS], [w for _, w in GROUP_WEIGHTS])[0]
    team = rng.choice(TEAMS)
    priority = rng.choices(["crisis", "high", "normal", "low"], [2, 10, 80, 8])[0]

    def worker():
        return f"{team}-{rng.randrange(WORKERS_PER_TEAM):02d}"

    def later(mean_days: float, minimum_hours: float = 0.5) -> dt.datetime:
        return facts[-1].occurred_at + dt.timedelta(hours=minimum_hours + rng.expovariate(1 / mean_days) * 24)

    facts = [Fact("record_contact", at, data={"person_ref": f"P{rng.randrange(EPISODES['council']):07d}",
                                              "client_group": group, "team": team, "priority": priority,
                                              "route": None})]
    r = rng.random()
    if r < 0.35:
        plan = [("resolve", 0.02, {"outcome": "information_and_advice"})]
    elif r < 0.92:
        plan = [("refer", 0.01, {}), ("allocate", MEAN_WAIT.get(group, 9), {"worker": worker()})]
        if rng.random() < 0.12:
            plan += [("release", 3, {}), ("allocate", 2, {"worker": worker()})]
        if rng.random() < 0.2:
            plan += [("plan", 20, {}), ("allocate", 18, {"worker": worker()}),
                     ("close", 90, {"outcome": "long_term_support"})]
        else:
            plan += [("close", 25, {"outcome": "met_at_c1"})]
    else:
        plan = [("crisis", 0.05, {}), ("allocate", 0.6, {"worker": worker()}), ("stabilise", 6, {}),
                ("close", 20, {"outcome": "crisis_resolved"})]
    for trigger, mean, kw in plan:
        at = later(mean)
        if at > END:
            break
        facts.append(Fact(trigger, at, worker=kw.get("worker"), outcome=kw.get("outcome")))
    return facts


def build_council(url: str, size: str, seed: int = 5) -> dict:
    """Load the synthetic council with COPY; returns its counts."""
    n, years = EPISODES[size], YEARS[size]
    rng = random.Random(seed)
    first = END - dt.timedelta(days=365 * years)
    step = (END - first) / n
    db = make_engine(url)
    Engine(url, settings=Settings(_env_file=None)).dispose()  # the schema
    ep_cols = ["id", *[c for c in state_values(start(None, _episode_facts(rng, 0, first)[0]))], "idempotency_key",
               "request_hash"]
    ev_cols = None
    n_events = 0
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY team (key, name, created_at, created_by) FROM STDIN") as cp:
            for t in TEAMS:
                cp.write_row((t, t.title(), first, "bench"))
        with cur.copy("COPY worker (key, name, team, caseload_cap, created_at, created_by) FROM STDIN") as cp:
            for t in TEAMS:
                for w in range(WORKERS_PER_TEAM):
                    cp.write_row((f"{t}-{w:02d}", f"Worker {w}", t, 1_000_000, first, "bench"))
        chunk = 50_000
        for lo in range(0, n, chunk):
            episodes, events = [], []
            for i in range(lo, min(n, lo + chunk)):
                at = first + step * i + dt.timedelta(minutes=rng.randrange(30))
                facts = _episode_facts(rng, i, at)
                state = dataclasses.replace(start(None, facts[0]), id=i + 1)
                steps = [(None, state, facts[0])]
                for fact in facts[1:]:
                    before, state = state, apply(state, fact)
                    steps.append((before, state, fact))
                episodes.append({"id": i + 1, **state_values(state), "idempotency_key": None, "request_hash": None})
                for before, after, fact in steps:
                    alloc = ("self" if rng.random() < 0.8 else "manager") if fact.trigger == "allocate" else None
                    events.append(event_row(before, after, fact, "bench", None, alloc, None, None,
                                             fact.occurred_at))
            ev_cols = ev_cols or list(events[0])
            with cur.copy(f"COPY episode ({', '.join(ep_cols)}) FROM STDIN") as cp:
                for e in episodes:
                    cp.write_row([e[c] for c in ep_cols])
            with cur.copy(f"COPY event ({', '.join(ev_cols)}) FROM STDIN") as cp:
                for e in events:
                    cp.write_row([json.dumps(e[c]) if c == "data" else e[c] for c in ev_cols])
            n_events += len(events)
            raw.commit()
        cur.execute("SELECT setval(pg_get_serial_sequence('episode', 'id'), %s)", (n,))
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        db.dispose()
    return {"episodes": n, "events": n_events}


FLOOR_WAITS = """
SELECT client_group, stage, count(*) AS waiting,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median_days,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY d) AS p90_days,
       max(d) AS max_days,
       sum(CASE WHEN d > CASE stage WHEN 'contact' THEN 2 WHEN 'c1_waiting' THEN 11 WHEN 'c2_waiting' THEN 1
                              ELSE 28 END
           THEN 1 ELSE 0 END) AS over_threshold
FROM (SELECT client_group, stage,
             CASE WHEN stage = 'contact'
                  THEN (SELECT working_index FROM calendar_day WHERE day = CAST(:as_at AS date))
                       - (SELECT working_index FROM calendar_day
                          WHERE day = CAST(wait_from AT TIME ZONE 'Europe/London' AS date))
                  ELSE CAST(:as_at AS date) - CAST(wait_from AT TIME ZONE 'Europe/London' AS date) END AS d
      FROM episode WHERE stage IN ('contact', 'c1_waiting', 'c2_waiting', 'c3_waiting')) AS w
GROUP BY client_group, stage
"""

FLOOR_ALLOCATION = """
SELECT ep.client_group, e.from_stage AS stage, count(*) AS allocated, sum(e.occurred_on - e.wait_from_on) AS total,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.occurred_on - e.wait_from_on) AS median_days,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY e.occurred_on - e.wait_from_on) AS p90_days,
       sum(CASE WHEN e.allocation = 'self' THEN 1 ELSE 0 END) AS self_allocated,
       sum(CASE WHEN e.allocation = 'manager' THEN 1 ELSE 0 END) AS manager_allocated
FROM event e JOIN episode ep ON ep.id = e.episode_id
WHERE e.trigger = 'allocate' AND e.first_allocation AND e.occurred_on BETWEEN :start AND :end
GROUP BY ep.client_group, e.from_stage
"""


def best_of(*fns, repeat: int = REPEAT) -> list[tuple[float, object, float]]:
    """Each function ``repeat`` times, taking turns (a, b, a, b, …) so that a machine that slows
    down or speeds up during the run favours none: (best time, last result, median time) each."""
    times: list[list[float]] = [[] for _ in fns]
    results: list[object] = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            with Timer() as t:
                results[i] = fn()
            times[i].append(t.seconds)
    return [(min(ts), result, statistics.median(ts)) for ts, result in zip(times, results, strict=True)]


def one(x) -> float | None:
    from pathway.services.reports import one_decimal

    return one_decimal(x)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    size = args.size
    with contextlib.ExitStack() as stack:
        if args.database_url:  # a council loaded before (by build_council), measured again
            url = args.database_url
            with make_engine(url).connect() as conn:
                conn.exec_driver_sql("ANALYZE")  # a loader may not have: the planner needs the statistics
                conn.commit()
                counts = {"episodes": conn.execute(sa.text("SELECT count(*) FROM episode")).scalar_one(),
                          "events": conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()}
        else:
            url = stack.enter_context(scratch_database())
            with Timer() as load:
                counts = build_council(url, size)
            print(f"loaded {counts['episodes']:,} episodes and {counts['events']:,} events in {load.seconds:.1f} s")
        with make_engine(url).connect() as conn:  # "today" is the council's last day
            end = conn.execute(sa.text("SELECT max(occurred_at) FROM event")).scalar_one()
        engine = Engine(url, settings=Settings(_env_file=None), clock=lambda: end)
        today = days.london_date(end)
        year = (today - dt.timedelta(days=364), today)
        db = make_engine(url)  # the floor's own connection: the two sides never share a session

        def floor(sql, jit=True, **params):
            with db.connect() as conn:
                if not jit:  # the settings the engine uses for its reports, for this transaction
                    for name, value in REPORT_SESSION.items():
                        conn.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
                rows = [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]
                conn.commit()  # as the engine's reports end (a rollback would drop psycopg's prepared statements)
                return rows

        # The engine turns JIT off and raises work_mem for its report queries (a past day's waits and
        # allocation); the floors run with the server's defaults, and also with the engine's
        # settings, so both comparisons can be read.
        (e_waits_s, e_waits, e_waits_med), (f_waits_s, f_waits, f_waits_med), (f_waits_tuned_s, _, _) = best_of(
            lambda: engine.reports.waits(group_by=["client_group", "stage"]),
            lambda: floor(FLOOR_WAITS, as_at=today),
            lambda: floor(FLOOR_WAITS, jit=False, as_at=today))
        (e_alloc_s, e_alloc, e_alloc_med), (f_alloc_s, f_alloc, f_alloc_med), (f_alloc_tuned_s, _, _) = best_of(
            lambda: engine.reports.allocation(group_by=["client_group", "stage"], start=year[0], end=year[1]),
            lambda: floor(FLOOR_ALLOCATION, start=year[0], end=year[1]),
            lambda: floor(FLOOR_ALLOCATION, jit=False, start=year[0], end=year[1]))

        # The same numbers, or the timing means nothing.
        want = {(r["client_group"], r["stage"]): {
            "waiting": r["waiting"], "median_days": one(r["median_days"]), "p90_days": one(r["p90_days"]),
            "max_days": r["max_days"], "over_threshold": r["over_threshold"]} for r in f_waits}
        got = {(r["client_group"], r["stage"]): {k: r[k] for k in want[next(iter(want))]}
               for r in e_waits if r["waiting"]}
        assert got == want, (got, want)
        want = {(r["client_group"], r["stage"]): {
            "allocated": r["allocated"], "mean_days": one((r["total"], r["allocated"])),
            "median_days": one(r["median_days"]), "p90_days": one(r["p90_days"]),
            "self_allocated": r["self_allocated"], "manager_allocated": r["manager_allocated"]} for r in f_alloc}
        got = {(r["client_group"], r["stage"]): {k: r[k] for k in want[next(iter(want))]}
               for r in e_alloc if r["allocated"]}
        assert got == want, (got, want)
        waiting = sum(r["waiting"] for r in e_waits)
        allocated = sum(r["allocated"] for r in e_alloc)
        engine.dispose()
        db.dispose()
    common = {**counts, "client_groups": len(CLIENT_GROUPS), "figures_equal": True}
    report("reports-waits", engine=e_waits_s, floor=f_waits_s, unit="s", higher_is_better=False, goal=GOAL,
           size=size, extra={**common, "waiting": waiting, "engine_median_s": round(e_waits_med, 4),
                             "floor_median_s": round(f_waits_med, 4),
                             "floor_engine_settings_s": round(f_waits_tuned_s, 4),
                             "ratio_to_floor_engine_settings": round(f_waits_tuned_s / e_waits_s, 3)})
    report("reports-allocation", engine=e_alloc_s, floor=f_alloc_s, unit="s", higher_is_better=False, goal=GOAL,
           size=size, extra={**common, "allocated_in_year": allocated, "engine_median_s": round(e_alloc_med, 4),
                             "floor_median_s": round(f_alloc_med, 4),
                             "floor_engine_settings_s": round(f_alloc_tuned_s, 4),
                             "ratio_to_floor_engine_settings": round(f_alloc_tuned_s / e_alloc_s, 3)})


if __name__ == "__main__":
    main()
