"""Load a synthetic council into a database through the engine's own import path, in batches, with progress.

    python -m bench.council --size council --database-url postgresql://postgres@127.0.0.1:5432/pathway

Without ``--database-url`` it loads into a scratch PostgreSQL database and drops it afterwards
(``--keep`` keeps it and prints its URL). Sizes are pathway.services.synthetic.SIZES: ``small`` (a few
thousand episodes), ``council`` (~100,000 contacts, one large council's year) and ``decade``
(~1,000,000 episodes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench.common import parser, scratch_database
from pathway import Engine
from pathway.services.synthetic import SIZES, Council, Simulation
from pathway.settings import load_settings

console = Console(stderr=True)
# Episodes per import call: each call is one all-or-nothing transaction.
BATCH_EPISODES = {"small": 1_000, "council": 10_000, "decade": 25_000}


@contextlib.contextmanager
def database(url: str | None, keep: bool = False) -> Iterator[str]:
    """The given database, or a scratch PostgreSQL one (dropped afterwards unless ``keep``)."""
    if url is not None:
        yield url
        return
    with scratch_database(keep=keep) as scratch:
        yield scratch


def create_council(engine: Engine, sim: Simulation) -> None:
    """The council's teams and workers (skipped if they are already there)."""
    with engine.transaction(write=False) as conn:
        existing = set(conn.exec_driver_sql("SELECT key FROM team").scalars())
    for team in sim.teams:
        if team["key"] not in existing:
            engine.create_team(**team)
    if not existing:
        for worker in sim.workers():
            engine.create_worker(**worker)


def batches(sim: Simulation, size: int) -> Iterator[tuple[int, list[dict]]]:
    """(episodes, their event rows) in batches of ``size`` episodes, streamed from the simulation."""
    rows: list[dict] = []
    n = 0
    for events in sim.episodes():
        rows.extend(events)
        n += 1
        if n == size:
            yield n, rows
            rows, n = [], 0
    if n:
        yield n, rows


def load(url: str, council: Council, *, batch: int = 10_000, show_progress: bool = True) -> dict:
    """Simulate ``council`` and import it through ``Engine.import_history``; returns counts and timings."""
    engine = Engine(url, settings=load_settings(database_url=url), actor="bench-loader")
    sim = Simulation(council)
    episodes = events = 0
    import_seconds = 0.0
    began = time.perf_counter()
    progress = Progress(TextColumn(f"[bold]Loading {council.name}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("episodes · {task.fields[events]:,} events"), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=console, disable=not show_progress)
    try:
        create_council(engine, sim)
        with progress:
            task = progress.add_task("load", total=council.expected_contacts(), events=0)
            for n, rows in batches(sim, batch):
                t = time.perf_counter()
                engine.import_history(iter(rows), batch_size=10_000)
                import_seconds += time.perf_counter() - t
                episodes += n
                events += len(rows)
                progress.update(task, completed=episodes, events=events)
            progress.update(task, total=episodes, completed=episodes)
    finally:
        engine.dispose()
    total = time.perf_counter() - began
    return {"size": council.name, "episodes": episodes, "events": events, "teams": len(sim.teams),
            "workers": len(sim.staff), "seconds": round(total, 1), "import_seconds": round(import_seconds, 1),
            "events_per_second_overall": round(events / total),
            "events_per_second_import": round(events / import_seconds)}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="keep the scratch database and print its URL")
    p.add_argument("--batch", type=int, default=None, help="episodes per import transaction")
    args = p.parse_args(argv)
    council = SIZES[args.size]
    with database(args.database_url, keep=args.keep) as url:
        result = load(url, council, batch=args.batch or BATCH_EPISODES[args.size])
        if args.keep or args.database_url:
            result["database_url"] = url
    minutes = result["seconds"] / 60
    print(f"council [{args.size}]: {result['episodes']:,} episodes, {result['events']:,} events, "
          f"{result['teams']} teams, {result['workers']} workers loaded in {result['seconds']:,.1f} s "
          f"({minutes:.1f} min; simulation and import {result['events_per_second_overall']:,} events/s, "
          f"import alone {result['events_per_second_import']:,} events/s)")
    if "database_url" in result:
        print(f"  database: {result['database_url']}")
    return result


if __name__ == "__main__":
    main()
