"""track_waits over many open episodes on PostgreSQL, against the floor of one hand-written SQL statement.

The engine's figure is the day's snapshot: the INSERT … SELECT over pathway.store.reports.waits_select
(portable SQL that also runs on SQLite) writing one row per team × client group × waiting stage.
The floor is one PostgreSQL statement computing the same rows (DISTINCT ON for each episode's
last event, percentile_cont for the percentiles). Each is run ``REPEAT`` times (the snapshot
into a fresh day each time), the best time kept, and the figures checked equal first. A full
``track_waits`` run (snapshot and breach detection with its outbox alerts) is timed too: the
first run of the day, which records every breach, and a second run that finds nothing new.

Open episodes are loaded with set-based SQL: 60% wait in conversation 1, 10% in a crisis, 10%
for conversation 3, 20% are allocated; contacts spread over the last 150 days, 10 teams.

    python -m bench.track_waits --size small      # 20,000 open episodes
    python -m bench.track_waits --size council    # 200,000 open episodes
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from pathway import Engine
from pathway.domain import days
from pathway.domain.stages import CLOCKED
from pathway.services import waits
from pathway.settings import CLIENT_GROUPS, Settings

EPISODES = {"small": 20_000, "council": 200_000, "decade": 1_000_000}
TEAMS = 10
REPEAT = 3
GOAL = 1 / 1.5  # within 1.5× of the floor
NOW = dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.UTC)

LOAD = """
CREATE TEMP TABLE spec AS
SELECT g AS id, 't' || lpad((g % {teams})::text, 2, '0') AS team,
       (ARRAY[{groups}])[1 + (g / {teams}) % {ngroups}] AS grp,
       CASE WHEN g % 10 < 6 THEN 'c1_waiting' WHEN g % 10 = 6 THEN 'c2_waiting'
            WHEN g % 10 = 7 THEN 'c3_waiting' ELSE 'c1_active' END AS stage,
       :now - make_interval(days => (g * 7919) % 150, hours => 1 + g % 9) AS contact_at,
       :now - make_interval(days => ((g * 7919) % 150) / 2, hours => 1 + g % 9) AS later_at
FROM generate_series(1, :n) AS g;

INSERT INTO team (key, name, created_at, created_by)
SELECT DISTINCT team, team, :now, 'bench' FROM spec;
INSERT INTO worker (key, name, team, created_at, created_by)
SELECT 'w-' || key, key, key, :now, 'bench' FROM team;

-- the events: contact, refer or crisis, allocate, plan
CREATE TEMP TABLE ev AS
SELECT id, 1 AS seq, 'record_contact' AS trigger, NULL AS from_stage, 'contact' AS to_stage,
       contact_at AS at, NULL::timestamptz AS wait_from, false AS first_allocation, NULL AS worker FROM spec
UNION ALL
SELECT id, 2, CASE WHEN stage = 'c2_waiting' THEN 'crisis' ELSE 'refer' END, 'contact',
       CASE WHEN stage = 'c2_waiting' THEN 'c2_waiting' ELSE 'c1_waiting' END,
       CASE WHEN stage = 'c2_waiting' THEN later_at ELSE contact_at END,
       CASE WHEN stage = 'c2_waiting' THEN later_at ELSE contact_at END, false, NULL FROM spec
UNION ALL
SELECT id, 3, 'allocate', 'c1_waiting', 'c1_active', later_at, contact_at, true, 'w-' || team
FROM spec WHERE stage IN ('c1_active', 'c3_waiting')
UNION ALL
SELECT id, 4, 'plan', 'c1_active', 'c3_waiting', later_at, later_at, false, NULL FROM spec WHERE stage = 'c3_waiting';

INSERT INTO episode (id, person_ref, client_group, team, priority, stage, worker, contact_at, stage_at, wait_from,
                     wait_from_on, allocated_at, version)
SELECT s.id, 'P-' || s.id, s.grp, s.team, CASE WHEN s.stage = 'c2_waiting' THEN 'crisis' ELSE 'normal' END,
       s.stage, CASE WHEN s.stage = 'c1_active' THEN 'w-' || s.team END, s.contact_at, last.at, last.wait_from,
       (last.wait_from AT TIME ZONE 'Europe/London')::date,
       CASE WHEN s.stage = 'c1_active' THEN s.later_at END, last.seq
FROM spec s JOIN (SELECT DISTINCT ON (id) * FROM ev ORDER BY id, seq DESC) last ON last.id = s.id;
SELECT setval(pg_get_serial_sequence('episode', 'id'), :n);

INSERT INTO event (episode_id, seq, trigger, from_stage, to_stage, occurred_at, occurred_on, recorded_at, actor,
                   worker, wait_from, wait_from_on, first_allocation, allocation, data)
SELECT id, seq, trigger, from_stage, to_stage, at, (at AT TIME ZONE 'Europe/London')::date, :now, 'bench',
       worker, wait_from, (wait_from AT TIME ZONE 'Europe/London')::date, first_allocation,
       CASE WHEN trigger = 'allocate' THEN 'self' END, '{{}}'::json
FROM ev;
ANALYZE;
"""

FLOOR = """
WITH last AS (
    SELECT DISTINCT ON (ev.episode_id) e.team, e.client_group, ev.to_stage AS stage,
           CAST(:day AS date) - ev.wait_from_on AS days
    FROM episode e JOIN event ev ON ev.episode_id = e.id
    WHERE e.contact_at < :day_end AND (e.stage IN ('c1_waiting', 'c2_waiting', 'c3_waiting') OR e.stage_at >= :day_end)
      AND ev.occurred_on <= :day
    ORDER BY ev.episode_id, ev.seq DESC
)
SELECT team, client_group, stage, count(*) AS waiting,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median_days,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90_days,
       max(days) AS max_days,
       count(*) FILTER (WHERE days > CASE stage WHEN 'c1_waiting' THEN 11 WHEN 'c2_waiting' THEN 1 ELSE 28 END)
           AS over_threshold
FROM last WHERE stage IN ('c1_waiting', 'c2_waiting', 'c3_waiting')
GROUP BY team, client_group, stage
"""


def load(db: sa.Engine, n: int) -> None:
    groups = ", ".join(f"'{g}'" for g in CLIENT_GROUPS)
    sql = LOAD.format(teams=TEAMS, groups=groups, ngroups=len(CLIENT_GROUPS))
    with db.begin() as conn:
        for statement in (s.strip() for s in sql.split(";")):
            if statement:
                conn.execute(sa.text(statement), {"now": NOW, "n": n})


def rounded(rows) -> set:
    return {(r["team"], r["client_group"], r["stage"], r["waiting"], round(r["median_days"], 6),
             round(r["p90_days"], 6), r["max_days"], r["over_threshold"]) for r in rows if r["waiting"]}


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    n = EPISODES[args.size]
    settings = Settings(_env_file=None)
    with scratch_database() as url:
        engine = Engine(url, settings=settings, clock=lambda: NOW, actor="bench")
        with Timer() as t:
            load(engine.db, n)
        print(f"loaded {n:,} open episodes in {t.seconds:.1f} s")
        day = NOW.date()
        day_end = days.parse_time(day + dt.timedelta(days=1))  # the London midnight that ends the day
        floor_times, floor_rows = [], None
        for _ in range(REPEAT):
            with engine.db.connect() as conn, Timer() as t:
                floor_rows = [dict(r) for r in conn.execute(sa.text(FLOOR), {"day": day, "day_end": day_end})
                              .mappings()]
            floor_times.append(t.seconds)
        from pathway.services.reports import terms
        from pathway.store.reports import Filters, waits_select
        from pathway.store.snapshots import SNAPSHOT_KEY

        select_times = []  # the report's query alone, no insert: where the engine's time goes
        for _ in range(REPEAT):
            with engine.db.connect() as conn, Timer() as t:
                conn.execute(waits_select(day, list(SNAPSHOT_KEY), terms(settings), Filters(),
                                          settings.day_modes)).all()
            select_times.append(t.seconds)
        engine_times = []
        for i in range(REPEAT):
            with engine.store.unit() as uow, Timer() as t:
                written = waits.snapshot(uow, settings, day, NOW)
            engine_times.append(t.seconds)
            assert written == TEAMS * len(CLIENT_GROUPS) * len(CLOCKED), written
            if i < REPEAT - 1:
                with engine.transaction() as conn:
                    conn.execute(sa.text("DELETE FROM wait_snapshot"))
        assert rounded(engine.wait_snapshots(day)) == rounded(floor_rows), "engine and floor disagree"
        with engine.transaction() as conn:
            conn.execute(sa.text("DELETE FROM wait_snapshot"))
        with Timer() as first:
            run1 = engine.track_waits()
        with Timer() as second:
            run2 = engine.track_waits()
        engine.dispose()
    waiting = sum(r["waiting"] for r in floor_rows)
    report("track_waits", engine=min(engine_times), floor=min(floor_times), unit="s", higher_is_better=False,
           goal=GOAL, size=args.size,
           extra={"open_episodes": n, "waiting": waiting, "waits_select_alone_s": round(min(select_times), 3),
                  "snapshot_rows": TEAMS * len(CLIENT_GROUPS) * len(CLOCKED),
                  "track_waits_first_run_s": round(first.seconds, 3), "breaches_first_run": run1["breaches"],
                  "track_waits_second_run_s": round(second.seconds, 3), "breaches_second_run": run2["breaches"]})


if __name__ == "__main__":
    main()
