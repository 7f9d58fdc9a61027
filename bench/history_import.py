"""Bulk history import: events per second through Engine.import_history against a plain COPY of the same rows.

    python -m bench.history_import --size small      # 5,000 episodes (~17,000 events), seconds
    python -m bench.history_import --size council    # 100,000 episodes (~350,000 events)
    python -m bench.history_import --size decade     # 1,000,000 episodes (~3.5 M events); no floor

The engine figure is the whole import: reading the CSV, checking every row by folding it through the
pathway, then reading it again and writing it in one transaction. The single-pass figure (checked and
written in the same pass, rolled back if any row is bad) is printed as well. The floor is the same episode,
episode_ref and event rows, already in memory as Python tuples, written by a plain COPY (PostgreSQL)
or executemany (SQLite) into the same tables, with the same indexes, in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import resource
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database

EPISODES = {"small": 5_000, "council": 100_000, "decade": 1_000_000}
TEAMS = ("north", "south", "east", "west")
GROUPS = ("physical_support", "sensory_support", "memory_and_cognition", "learning_disability", "mental_health",
          "social_support", "unknown")
HEADER = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at", "worker",
          "outcome", "priority", "route", "keep_worker", "to", "note", "actor")
START = dt.datetime(2016, 1, 4, 9, 0, tzinfo=dt.UTC)


def paths(rnd: random.Random):
    """One episode's moves after its contact: (trigger, days later, outcome, extra)."""
    r = rnd.random()
    if r < 0.30:
        return [("resolve", 0, rnd.choice(["information_and_advice", "signposted", "welfare_check_done"]), {})]
    moves = [("refer", 0, None, {}), ("allocate", rnd.randint(0, 30), None, {})]
    if r < 0.70:
        return moves + [("close", rnd.randint(5, 60), rnd.choice(["met_at_c1", "declined", "no_further_action"]), {})]
    if r < 0.85:
        return moves + [("plan", rnd.randint(5, 40), None, {}), ("allocate", rnd.randint(1, 40), None, {}),
                        ("close", rnd.randint(20, 200), "long_term_support", {})]
    if r < 0.95:
        return moves + [("crisis", rnd.randint(1, 20), None, {"keep_worker": "1"}),
                        ("stabilise", rnd.randint(1, 10), None, {}),
                        ("close", rnd.randint(5, 30), "crisis_resolved", {})]
    return moves[:1]


def write_history(path: Path, episodes: int, seed: int = 7) -> int:
    """A synthetic council's ten years of history as the import's CSV layout; returns the event count."""
    rnd = random.Random(seed)
    span = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) - START).total_seconds()
    events = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(episodes):
            team = TEAMS[i % len(TEAMS)]
            at = START + dt.timedelta(seconds=int(span * i / episodes))
            ref = f"EP{i:07d}"
            w.writerow([ref, 1, f"P{rnd.randint(1, episodes):07d}", rnd.choice(GROUPS), team, "record_contact",
                        at.isoformat(), "", "", "normal", "", "", "", "", ""])
            worker = None
            moves = paths(rnd)
            events += 1 + len(moves)
            for seq, (trigger, later, outcome, extra) in enumerate(moves, start=2):
                at += dt.timedelta(days=later, hours=rnd.randint(0, 8))
                if trigger == "allocate":
                    worker = f"{team}-{rnd.randint(1, 10)}"
                w.writerow([ref, seq, "", "", "", trigger, at.isoformat(), worker if trigger == "allocate" else "",
                            outcome or "", "", "", extra.get("keep_worker", ""), "", "", ""])
    return events


def council(engine) -> None:
    for team in TEAMS:
        engine.create_team(team, team.title())
        for n in range(1, 11):
            engine.create_worker(f"{team}-{n}", f"Worker {n}", team)


def empty(db: sa.Engine) -> None:
    with db.begin() as conn:
        for table in ("event", "episode_ref", "episode"):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def floor(db: sa.Engine) -> tuple[float, int]:
    """Read back what the import wrote, empty the tables, and time a plain bulk write of the same rows."""
    tables = ["episode", "episode_ref", "event"]
    with db.connect() as conn:
        meta = sa.MetaData()
        loaded = {t: sa.Table(t, meta, autoload_with=conn) for t in tables}
        rows = {t: [tuple(r) for r in conn.execute(sa.select(loaded[t]))] for t in tables}
    with db.begin() as conn:
        conn.exec_driver_sql("DELETE FROM event")
        conn.exec_driver_sql("DELETE FROM episode_ref")
        conn.exec_driver_sql("DELETE FROM episode")
    with Timer() as t, db.begin() as conn:
        for name in tables:
            cols = [c.name for c in loaded[name].c]
            if db.dialect.name == "sqlite":
                marks = ", ".join("?" for _ in cols)
                conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks})", rows[name])
            else:
                import json

                json_at = [i for i, c in enumerate(loaded[name].c) if isinstance(c.type, sa.JSON)]
                cur = conn.connection.driver_connection.cursor()
                with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in rows[name]:
                        if json_at:
                            r = list(r)
                            for i in json_at:
                                r[i] = json.dumps(r[i])
                        copy.write_row(r)
    return t.seconds, len(rows["event"])


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    from pathway import Engine
    from pathway.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        events = write_history(path, EPISODES[args.size])
        csv_mb = round(path.stat().st_size / 1e6, 1)
        with (scratch_database() if args.database_url is None else _given(args.database_url)) as url:
            engine = Engine(url, settings=Settings(_env_file=None), actor="bench")
            council(engine)
            # Best of a few runs for the quick size: the machine is shared, and one slow moment
            # would otherwise decide the ratio. Each run starts from empty tables.
            runs, seconds, floors, single = (3 if args.size == "small" else 1), [], [], []
            for run in range(runs):
                # The same file with single_pass=True (checked and written in one pass, rolled back if bad).
                empty(engine.db)
                with Timer() as t:
                    engine.import_history(str(path), single_pass=True)
                single.append(t.seconds)
                empty(engine.db)
                with Timer() as t:
                    summary = engine.import_history(str(path))
                seconds.append(t.seconds)
                rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # before the floor's rows
                assert summary.new_events == events, (summary.new_events, events)
                if run == 0:
                    with Timer() as again:
                        engine.import_history(str(path))
                if args.size != "decade":
                    floor_seconds, copied = floor(engine.db)
                    assert copied == events
                    floors.append(floor_seconds)
            floor_rate = events / min(floors) if floors else float("nan")
            engine.dispose()
    report("history_import", engine=events / min(seconds), floor=floor_rate, unit="events/s",
           higher_is_better=True, goal=0.5, size=args.size,
           extra={"episodes": summary.episodes, "events": events, "import_seconds": round(min(seconds), 2),
                  "reimport_seconds (no-op)": round(again.seconds, 2),
                  "csv_mb": csv_mb, "peak_rss_mb_after_import": rss_mb,
                  "single_pass events/s": round(events / min(single)),
                  "single_pass ratio": round(events / min(single) / floor_rate, 2) if floors else None})


class _given:
    def __init__(self, url):
        self.url = url

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
