"""Casework reads at council scale: a worker's tray, a team's front door, the listing of episodes (its first
page and a deep cursor) and case progression, each against a hand-written PostgreSQL query computing the
same rows in the same run.

The council is bench.reports' synthetic one (loaded with COPY), with casework on a sample of its active
episodes recorded through the engine (flags, next actions, discussions). Each side runs ``REPEAT`` times,
taking turns, and the best time of each is kept; the rows are checked equal first.

    python -m bench.casework --size small                  # 20,000 episodes over 2 years
    python -m bench.casework --database-url URL            # a council loaded before (read-only)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random

import sqlalchemy as sa

from bench.common import parser, report, scratch_database
from bench.reports import best_of, build_council, one
from pathway import Engine
from pathway.domain import days
from pathway.settings import Settings
from pathway.store.db import make_engine

GOAL = 0.7
SAMPLE = {"small": 400, "council": 2000, "decade": 2000}
ACTIVE = "('c1_active', 'c2_active', 'c3_active')"
# The floors read the columns the engine returns an episode from (its row, its last event and its
# casework), so that both sides fetch the same data.
EPISODE_COLUMNS = ("id, person_ref, client_group, team, priority, route, stage, worker, contact_at, stage_at, "
                   "wait_from, allocated_at, outcome, closed_at, version, external_ref")
CASEWORK = f"""
SELECT {', '.join('e.' + c.strip() for c in EPISODE_COLUMNS.split(','))},
       ev.trigger AS last_event, ev.occurred_at AS last_event_at, ev.occurred_on AS last_event_on,
       p.flagged_at IS NOT NULL AS flagged, p.flagged_at, p.flag_reason, p.next_action, p.next_action_due,
       p.discussed_at, p.discussed_where
FROM episode e JOIN event ev ON ev.episode_id = e.id AND ev.seq = e.version
LEFT JOIN episode_progress p ON p.episode_id = e.id
"""
FLOOR_TRAY = CASEWORK + f"WHERE e.worker = :worker AND e.stage IN {ACTIVE} ORDER BY e.allocated_at, e.id"
FLOOR_FRONT_DOOR = f"""
SELECT {EPISODE_COLUMNS} FROM episode WHERE team = :team AND stage = 'contact'
ORDER BY CASE WHEN priority = 'crisis' THEN 0 ELSE 1 END, contact_at, id LIMIT 500
"""
FLOOR_PAGE = CASEWORK + "WHERE e.team = :team AND e.id > :after ORDER BY e.id LIMIT 51"
FLOOR_PROGRESSION = f"""
SELECT e.worker, e.stage, count(*) AS active,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(:as_at AS date) - e.allocated_on) AS median_days_active,
       max(CAST(:as_at AS date) - e.allocated_on) AS max_days_active,
       sum(CASE WHEN CAST(:as_at AS date) - ev.occurred_on > 14 THEN 1 ELSE 0 END) AS stale,
       sum(CASE WHEN p.next_action_due < CAST(:as_at AS date) THEN 1 ELSE 0 END) AS overdue_next_actions,
       sum(CASE WHEN p.flagged_at IS NOT NULL THEN 1 ELSE 0 END) AS flagged_not_discussed,
       max(CAST(:as_at AS date) - coalesce(p.discussed_on, e.allocated_on)) AS longest_since_discussed
FROM episode e JOIN event ev ON ev.episode_id = e.id AND ev.seq = e.version
LEFT JOIN episode_progress p ON p.episode_id = e.id
WHERE e.team = :team AND e.stage IN {ACTIVE}
GROUP BY e.worker, e.stage ORDER BY e.worker, e.stage
"""


def add_casework(engine: Engine, db, n: int, seed: int = 7) -> int:
    """Flags, next actions and discussions on ``n`` active episodes, through the engine."""
    rng = random.Random(seed)
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text(f"SELECT id FROM episode WHERE stage IN {ACTIVE} ORDER BY id"))]
    today = days.london_date(engine.now())
    with db.connect() as conn:
        team = conn.execute(sa.text("SELECT key FROM team ORDER BY key LIMIT 1")).scalar_one()
    for i in range(n // 10):  # contacts still at the front door
        engine.record_contact(f"FD-{i}", "mental_health", team, priority="crisis" if i % 7 == 0 else "normal",
                              occurred_at=engine.now() - dt.timedelta(hours=i))
    done = n // 10
    for episode_id in rng.sample(ids, min(n, len(ids))):
        due = (today + dt.timedelta(days=rng.randrange(1, 20))).isoformat()
        r = rng.random()
        if r < 0.4:
            engine.fire(episode_id, "flag", reason="for the huddle")
        elif r < 0.8:
            engine.fire(episode_id, "next_action", text="ring back", due=due)
        else:
            engine.fire(episode_id, "discussed", where="progression", decision="carry on", next_action="visit",
                        due=due)
        done += 1
    return done


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    size = args.size
    with contextlib.ExitStack() as stack:
        if args.database_url:
            url, written = args.database_url, 0
        else:
            url = stack.enter_context(scratch_database())
            build_council(url, size)
            written = None
        db = make_engine(url)
        with db.connect() as conn:
            end = conn.execute(sa.text("SELECT max(occurred_at) FROM event")).scalar_one()
        engine = Engine(url, settings=Settings(_env_file=None), clock=lambda: end + dt.timedelta(minutes=1),
                        migrate=written is None)
        if written is None:
            written = add_casework(engine, db, SAMPLE[size])
            with db.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        with db.connect() as conn:
            team = conn.execute(sa.text("SELECT key FROM team ORDER BY key LIMIT 1")).scalar_one()
            worker = conn.execute(sa.text(
                f"SELECT worker FROM episode WHERE stage IN {ACTIVE} AND team = :t GROUP BY worker "
                "ORDER BY count(*) DESC LIMIT 1"), {"t": team}).scalar_one()
            deep = conn.execute(sa.text("SELECT id FROM episode WHERE team = :t ORDER BY id OFFSET "
                                        "(SELECT count(*) * 9 / 10 FROM episode WHERE team = :t) LIMIT 1"),
                                {"t": team}).scalar_one()
            counts = {"episodes": conn.execute(sa.text("SELECT count(*) FROM episode")).scalar_one(),
                      "events": conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()}
        today = days.london_date(engine.now())

        def floor(sql, **params):
            with db.connect() as conn:
                rows = [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]
                conn.commit()
                return rows

        cursor = f"e{deep}"
        runs = {
            "tray": (lambda: engine.tray(worker), lambda: floor(FLOOR_TRAY, worker=worker)),
            "front-door": (lambda: engine.front_door(team), lambda: floor(FLOOR_FRONT_DOOR, team=team)),
            "episodes-first-page": (lambda: engine.episodes(team=team),
                                    lambda: floor(FLOOR_PAGE, team=team, after=0)),
            "episodes-deep-cursor": (lambda: engine.episodes(team=team, cursor=cursor),
                                     lambda: floor(FLOOR_PAGE, team=team, after=deep)),
            "progression": (lambda: engine.reports.progression(team=team),
                            lambda: floor(FLOOR_PROGRESSION, team=team, as_at=today)),
        }
        results = {name: best_of(*fns) for name, fns in runs.items()}
        # The same rows, or the timing means nothing.
        (_, tray, _), (_, f_tray, _) = results["tray"]
        assert [(t.id, t.last_event, t.flagged) for t in tray] == [(r["id"], r["last_event"], r["flagged"])
                                                                    for r in f_tray]
        (_, door, _), (_, f_door, _) = results["front-door"]
        assert [e.id for e in door] == [r["id"] for r in f_door]
        for name in ("episodes-first-page", "episodes-deep-cursor"):
            (_, page, _), (_, f_page, _) = results[name]
            assert [e.id for e in page["items"]] == [r["id"] for r in f_page][:50]
        (_, prog, _), (_, f_prog, _) = results["progression"]
        assert prog == [{**r, "median_days_active": one(r["median_days_active"])} for r in f_prog]
        engine.dispose()
        db.dispose()
    rows = {"tray": len(tray), "front-door": len(door), "episodes-first-page": 50, "episodes-deep-cursor": 50,
            "progression": len(prog)}
    for name, ((e_s, _, e_med), (f_s, _, f_med)) in results.items():
        report(f"casework-{name}", engine=e_s, floor=f_s, unit="s", higher_is_better=False, goal=GOAL, size=size,
               extra={**counts, "casework_events": written, "rows": rows[name], "engine_ms": round(e_s * 1000, 2),
                      "engine_median_s": round(e_med, 4), "floor_median_s": round(f_med, 4),
                      "under_100_ms": e_s < 0.1})


if __name__ == "__main__":
    main()
