"""The scrutiny panel's measures at council scale: the Three Conversations measures for a year split
by cohort, against a hand-written PostgreSQL floor computing the same numbers in the same run; and
the scrutiny pack for a year (every report it prints), timed against its goal.

The council is bench.reports' synthetic one (loaded with COPY), with a conversation held at four in
five first allocations (an event of the log, written by SQL from the allocation's own row), so the
days to the first conversation held have something to count. The cohort is team north.

    python -m bench.scrutiny --size small      # 20,000 episodes over 2 years
    python -m bench.scrutiny --size council    # 1,000,000 episodes over 10 years
"""

from __future__ import annotations

import contextlib
import datetime as dt

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from bench.reports import best_of, build_council, one
from pathway import Engine
from pathway.domain import days
from pathway.settings import Cohort, Scrutiny, Settings
from pathway.store.db import make_engine

GOAL = 0.77
PACK_GOAL_S = 10.0
COHORT_TEAMS = ("north",)

ADD_CONVERSATIONS = """
INSERT INTO event (episode_id, seq, trigger, from_stage, to_stage, occurred_at, occurred_on, recorded_at, actor,
                   wait_from, wait_from_on, first_allocation, data)
SELECT episode_id, seq + 1000, 'conversation', to_stage, to_stage, occurred_at + interval '1 hour',
       CAST((occurred_at + interval '1 hour') AT TIME ZONE 'Europe/London' AS date), recorded_at, 'bench',
       wait_from, wait_from_on, false,
       CAST('{"status": "held", "mode": "phone", "minutes": 30}' AS json)
FROM event WHERE trigger = 'allocate' AND first_allocation AND episode_id % 5 <> 0
"""

# The same figures by hand: the year's contacts followed on, split by team north against the rest.
FLOOR = """
WITH c AS (
  SELECT e.id, e.episode_id, e.occurred_at, e.occurred_on,
         CASE WHEN ep.team = 'north' THEN 'cohort' ELSE 'rest' END AS cohort, ep.person_ref
  FROM event e JOIN episode ep ON ep.id = e.episode_id
  WHERE e.trigger = 'record_contact' AND e.occurred_on BETWEEN :start AND :end),
f AS (
  SELECT c.id, bool_or(l.trigger = 'resolve') AS resolved,
         bool_or(l.to_stage = 'closed' AND l.outcome = 'met_at_c1') AS met,
         bool_or(l.to_stage IN ('c2_waiting', 'c2_active')) AS c2,
         bool_or(l.to_stage IN ('c3_waiting', 'c3_active')) AS c3,
         bool_or(l.to_stage = 'closed' AND l.outcome = 'long_term_support') AS lts
  FROM c JOIN event l ON l.episode_id = c.episode_id GROUP BY c.id),
rep AS (
  SELECT DISTINCT c.id FROM c
  JOIN episode p ON p.person_ref = c.person_ref AND p.id <> c.episode_id
  JOIN event x ON x.episode_id = p.id AND x.to_stage = 'closed'
  WHERE x.occurred_at < c.occurred_at AND c.occurred_on - x.occurred_on <= 90)
SELECT c.cohort, count(*) AS contacts, count(*) FILTER (WHERE f.resolved) AS resolved,
       count(*) FILTER (WHERE f.met) AS met, count(*) FILTER (WHERE f.c2) AS c2,
       count(*) FILTER (WHERE f.c3) AS c3, count(*) FILTER (WHERE f.lts) AS lts,
       count(rep.id) AS repeats
FROM c JOIN f ON f.id = c.id LEFT JOIN rep ON rep.id = c.id GROUP BY c.cohort ORDER BY c.cohort
"""
FLOOR_NEW_LTS = """
SELECT CASE WHEN team = 'north' THEN 'cohort' ELSE 'rest' END AS cohort, count(*) AS new_lts FROM (
  SELECT DISTINCT ON (ep.person_ref) ep.person_ref, ep.team, e.occurred_on
  FROM event e JOIN episode ep ON ep.id = e.episode_id
  WHERE e.to_stage = 'closed' AND e.outcome = 'long_term_support'
  ORDER BY ep.person_ref, e.occurred_at, e.id) AS firsts
WHERE occurred_on BETWEEN :start AND :end GROUP BY 1 ORDER BY 1
"""
FLOOR_FIRST_HELD = """
SELECT CASE WHEN ep.team = 'north' THEN 'cohort' ELSE 'rest' END AS cohort, count(*) AS held,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median_days
FROM (SELECT DISTINCT ON (episode_id, wait_from) episode_id, occurred_on, occurred_on - wait_from_on AS d
      FROM event WHERE trigger = 'conversation' AND data->>'status' = 'held'
        AND from_stage IN ('c1_waiting', 'c1_active')
      ORDER BY episode_id, wait_from, seq) AS firsts
JOIN episode ep ON ep.id = firsts.episode_id
WHERE occurred_on BETWEEN :start AND :end GROUP BY 1 ORDER BY 1
"""


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    size = args.size
    with contextlib.ExitStack() as stack:
        url = args.database_url or stack.enter_context(scratch_database())
        db = make_engine(url)
        if not args.database_url:
            with Timer() as load:
                counts = build_council(url, size)
            with db.begin() as conn:
                added = conn.execute(sa.text(ADD_CONVERSATIONS)).rowcount
                conn.exec_driver_sql("ANALYZE event")
            print(f"loaded {counts['episodes']:,} episodes, {counts['events']:,} events and {added:,} conversations "
                  f"in {load.seconds:.1f} s")
        with db.connect() as conn:
            end = conn.execute(sa.text("SELECT max(occurred_at) FROM event")).scalar_one()
            counts = {"episodes": conn.execute(sa.text("SELECT count(*) FROM episode")).scalar_one(),
                      "events": conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()}
        settings = Settings(_env_file=None, scrutiny=Scrutiny(cohorts={"site": Cohort(teams=COHORT_TEAMS)}))
        engine = Engine(url, settings=settings, clock=lambda: end)
        today = days.london_date(end)
        start = today - dt.timedelta(days=364)

        def floor():
            with db.connect() as conn:
                p = {"start": start, "end": today}
                rows = [dict(r) for r in conn.execute(sa.text(FLOOR), p).mappings()]
                new = {r["cohort"]: r["new_lts"] for r in conn.execute(sa.text(FLOOR_NEW_LTS), p).mappings()}
                held = {r["cohort"]: r for r in conn.execute(sa.text(FLOOR_FIRST_HELD), p).mappings()}
                conn.commit()
            return rows, new, held

        (e_s, e_rows, e_med), (f_s, (f_rows, f_new, f_held), f_med) = best_of(
            lambda: engine.reports.three_conversations(start=start, end=today, by="period", cohort="site"),
            floor, repeat=5)
        got = {("cohort" if r["cohort"] == "site" else "rest"): r for r in e_rows}
        for r in f_rows:  # the same numbers, or the timing means nothing
            g = got[r["cohort"]]
            assert (g["contacts"], g["resolved_at_contact"], g["met_at_c1"], g["needing_c2"], g["going_to_c3"],
                    g["long_term_support"], g["repeat_contacts"]) == (
                r["contacts"], r["resolved"], r["met"], r["c2"], r["c3"], r["lts"], r["repeats"]), (g, r)
            assert g["new_long_term_support"] == f_new.get(r["cohort"], 0)
            h = f_held.get(r["cohort"])
            assert g["first_conversations_held"] == (h["held"] if h else 0)
            assert g["median_days_to_first_conversation"] == (one(h["median_days"]) if h else None)
        with Timer() as pack_t:
            document = engine.reports.pack(start=start, end=today)
        engine.dispose()
        db.dispose()
    report("scrutiny-three-conversations", engine=e_s, floor=f_s, unit="s", higher_is_better=False, goal=GOAL,
           size=size, extra={**counts, "contacts_in_year": sum(r["contacts"] for r in e_rows), "figures_equal": True,
                             "engine_median_s": round(e_med, 4), "floor_median_s": round(f_med, 4)})
    print(f"scrutiny-pack [{size}]: a year's pack in {pack_t.seconds:.2f} s (goal under {PACK_GOAL_S:.0f} s), "
          f"{len(document):,} bytes of HTML")


if __name__ == "__main__":
    main()
