"""The workforce reports at a council's size: the supervision report (per worker and per line manager)
and the caseload report over 1,000 workers and (decade) 1 M episodes, against a budget of 100 ms.

Rows are made in the database itself (``generate_series``): 50 teams of 20 workers (2 managers each,
the rest line-managed by them, a tenth part-time), ten years of supervision (8 sessions a year each,
about 80,000 rows), an absence for one worker in ten, and episodes (small 20,000, council 100,000,
decade 1 M) of which 3 % are active and 2 % wait. Each report runs a few times on a warm database;
the median is printed against the budget (the "floor" here is the 100 ms budget, not plain SQL: a
ratio of 1 or more is within it).

    python -m bench.workforce --size decade
"""

from __future__ import annotations

import statistics
import time

import sqlalchemy as sa

from bench.common import parser, report, scratch_database
from pathway import Engine
from pathway.settings import load_settings

GOAL_MS = 100.0
RUNS = 7
EPISODES = {"small": 20_000, "council": 100_000, "decade": 1_000_000}

SEED = """
INSERT INTO team (key, name, created_at, created_by)
SELECT 't' || t, 'Team ' || t, now(), 'bench' FROM generate_series(1, 50) t;
INSERT INTO worker (key, name, team, caseload_cap, created_at, created_by, role, fte)
SELECT 'w' || w, 'Worker ' || w, 't' || (1 + (w - 1) / 20), NULL, now(), 'bench',
       CASE WHEN w % 20 IN (1, 2) THEN 'manager' ELSE 'practitioner' END,
       CASE WHEN w % 10 = 5 THEN 0.6 ELSE 1 END
FROM generate_series(1, 1000) w;
UPDATE worker SET line_manager = 'w' || (20 * ((substr(key, 2)::int - 1) / 20) + 1 + substr(key, 2)::int % 2)
WHERE role = 'practitioner';
INSERT INTO supervision (worker, supervisor, "on", minutes, sampled, recorded_at, recorded_by)
SELECT w.key, w.line_manager, current_date - (s * 45 + substr(w.key, 2)::int % 30),
       CASE WHEN s % 5 = 0 THEN 90 ELSE 120 END, s % 10 = 0, now(), 'bench'
FROM worker w, generate_series(0, 80) s WHERE w.line_manager IS NOT NULL;
INSERT INTO absence (worker, start, "end", reason, recorded_at, recorded_by)
SELECT key, current_date - 3, current_date + 4, 'leave', now(), 'bench' FROM worker WHERE substr(key, 2)::int % 10 = 3;
INSERT INTO worker_skill (worker, skill)
SELECT key, 'learning_disability' FROM worker WHERE substr(key, 2)::int % 4 = 0;
INSERT INTO episode (person_ref, client_group, team, priority, stage, worker, contact_at, stage_at, wait_from,
                     wait_from_on, allocated_at, version)
SELECT 'P-' || e, (ARRAY['physical_support','learning_disability','mental_health','social_support'])[1 + e % 4],
       't' || (1 + e % 50), 'normal',
       CASE WHEN e % 100 < 3 THEN 'c1_active' WHEN e % 100 < 5 THEN 'c1_waiting' ELSE 'closed' END,
       CASE WHEN e % 100 < 3 THEN 'w' || (3 + 20 * (e % 50) + e % 18) END,
       now() - (e % 3650) * interval '1 day', now() - (e % 30) * interval '1 day',
       now() - (e % 3650) * interval '1 day', current_date - e % 3650,
       CASE WHEN e % 100 < 3 THEN now() END, 3
FROM generate_series(1, %(episodes)s) e;
INSERT INTO episode_weight (episode_id, weight, reason, set_at, set_by)
SELECT id, 2, 'complex', now(), 'bench' FROM episode WHERE stage = 'c1_active' AND id % 7 = 0;
ANALYZE;
"""


def median_ms(call) -> float:
    call()  # warm: plans cached, pages in memory
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(url: str, size: str) -> dict[str, float]:
    episodes = EPISODES[size]
    engine = Engine(url, settings=load_settings(workforce={"weighting": True}), actor="bench")
    with engine.db.begin() as conn:
        for statement in SEED.replace("%(episodes)s", str(episodes)).split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement.replace("%", "%%"))  # modulo, not a parameter
    with engine.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        n = conn.execute(sa.text("SELECT count(*) FROM episode")).scalar_one()
    figures = {
        "supervision by worker": median_ms(lambda: engine.reports.supervision()),
        "supervision by manager": median_ms(lambda: engine.reports.supervision(by="manager")),
        "supervision, one team": median_ms(lambda: engine.reports.supervision(team="t7")),
        "caseloads by worker": median_ms(lambda: engine.reports.caseloads()),
        "caseloads by team": median_ms(lambda: engine.reports.caseloads(by="team")),
    }
    for name, ms in figures.items():
        report(f"workforce-{name.replace(' ', '-').replace(',', '')}", engine=ms, floor=GOAL_MS, unit="ms",
               higher_is_better=False, goal=1.0, size=size,
               extra={"episodes": n, "workers": 1000, "runs": RUNS, "floor_is": f"the {GOAL_MS:.0f} ms budget"})
    engine.dispose()
    return figures


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    if args.database_url:
        run(args.database_url, args.size)
        return
    with scratch_database() as url:
        run(url, args.size)


if __name__ == "__main__":
    main()
