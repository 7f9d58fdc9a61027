"""``pathway demo``: a synthetic council's months of contacts run live through the engine, then its waits report.

The engine's clock walks through the simulated months, so every contact, move, self-allocation
and wait-tracking run happens "at" its simulated time, exactly as it would have in a council.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pathway.cli.app import app, console, fail, print_rows
from pathway.domain import days
from pathway.errors import PathwayError, ValidationError
from pathway.services.scrutiny_demo import DemoScrutiny
from pathway.services.synthetic import LONDON, Simulation, demo_council, skill_rules

DEMO_ACTOR = "demo"  # who the demo's changes are recorded as; a file holding only theirs may be replaced

# What to try next, printed when the demo ends (the README's first hour goes on with them).
NEXT = (
    ("pathway report waits --by team,stage", "who waits today, by team and queue"),
    ("pathway duty queue --team north", "the north team's queue in claim order"),
    ("pathway serve", "the HTTP API (its reference at http://127.0.0.1:8000/docs) and the huddle board"),
)
# Waiting now (median days so far, how many over threshold), then conversation 1's days to allocation.
COLUMNS = ["client_group", "waiting", "median_wait", "over_threshold", "allocated", "mean_days", "median_days",
           "p90_days"]


class SimulatedClock:
    """The engine's clock during the demo: set to each event's time as the months are replayed."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def demo_database(url: str) -> str:
    """The demo's database: the one every other command uses (by default ./pathway.db). An SQLite file
    holding only an earlier demo is started afresh; one holding anything else is refused, untouched."""
    from pathway import Engine
    from pathway.settings import load_settings

    if not url.startswith("sqlite:///"):
        return url  # a server's database: run_demo refuses it unless it is empty
    path = Path(url[len("sqlite:///"):])
    if not path.exists():
        return url
    engine = Engine(url, settings=load_settings(database_url=url), migrate=None)
    try:
        teams = engine.teams()
    finally:
        engine.dispose()
    others = [t["key"] for t in teams if t["created_by"] != DEMO_ACTOR]
    if others:
        raise ValidationError(f"{path} holds teams the demo did not make ({', '.join(others)}), so the demo leaves it "
                              "alone; give it another file: --database-url sqlite:///demo.db", field="database_url")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return url


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 23, 0, tzinfo=LONDON).astimezone(dt.UTC)


def run_demo(url: str, *, seed: int = 7, months: int = 4, show_progress: bool = True,
             end: dt.date | None = None) -> dict:
    """Build the demo council on ``url`` (which must be empty), replay its months live, and report.

    Returns the report rows (``rows``, one per client group) and counts of what was done.
    """
    from pathway import Engine
    from pathway.settings import load_settings

    if months < 1 or months > 24:
        raise ValidationError(f"months must be from 1 to 24, not {months}", field="months")
    council = demo_council(months, seed, end=end)
    sim = Simulation(council)
    sim.keep_episodes = False
    clock = SimulatedClock(_end_of(council.start - dt.timedelta(days=1)))
    # Learning disability and mental health need a specialist: their waits come from matching.
    settings = load_settings(database_url=url, workforce={"require": skill_rules()})
    engine = Engine(url, settings=settings, actor=DEMO_ACTOR, clock=clock, migrate=None)
    try:
        if engine.teams():
            raise ValidationError(f"the demo needs an empty database, and {url} already has teams; "
                                  "give it an empty one with --database-url",
                                  field="database_url")
        for team in sim.teams:
            engine.create_team(**team)
        for worker in sim.workers():
            engine.create_worker(**worker)
        for worker, skills in sim.skills().items():
            engine.workforce.set_skills(worker, skills)
        for manager in sim.managers():
            engine.create_worker(**manager)
            engine.workforce.update(manager["key"], role="manager")
        for worker in sim.workers():
            engine.workforce.update(worker["key"], line_manager=f"{worker['team']}-manager")
        extra = DemoScrutiny(seed)
        counts = _replay(engine, sim, clock, show_progress, extra)
        # The workforce's record of the months: sicknesses and supervision sessions, once they are past.
        for absence in sim.absences():
            engine.workforce.add_absence(**absence)
        for session in sim.supervisions():
            engine.workforce.record_supervision(**session)
        # Reports are asked "now": the day after the last simulated one (today, for the default end).
        clock.at = max(days.now(), _end_of(council.end))
        # The scrutiny panel's part: welfare checks recorded in bulk, quarterly case-file audits.
        checks = engine.import_outreach(extra.welfare_checks(council.start, council.end,
                                                             [t["key"] for t in sim.teams]))
        counts.update(welfare_checks=checks.rows, check_contacts=checks.resolved_contacts + checks.follow_up_contacts,
                      audits=extra.audits(engine, council.start, council.end))
        rows = _report(engine, council)
    finally:
        engine.dispose()
    return {"rows": rows, "council": council, "teams": len(sim.teams), "workers": len(sim.staff), **counts}


def _replay(engine, sim: Simulation, clock: SimulatedClock, show_progress: bool, extra: DemoScrutiny) -> dict:
    ids: dict[str, int] = {}
    episodes = events = claims = tracked = conversations = 0
    claim = getattr(engine, "claim", None)
    track = getattr(engine, "track_waits", None)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("days · {task.fields[episodes]:,} contacts · {task.fields[events]:,} events"),
                        TimeElapsedColumn(), console=console, disable=not show_progress, transient=False)
    with progress:
        task = progress.add_task("Simulating", total=sim.council.days, episodes=0, events=0)
        for date, todays in sim.days():
            for e in todays:
                clock.at = e["occurred_at"]
                trigger, ref = e["trigger"], e["episode_ref"]
                if trigger == "record_contact":
                    ep = engine.record_contact(e["person_ref"], e["client_group"], e["team"],
                                               occurred_at=e["occurred_at"], priority=e["priority"],
                                               route=e["route"])
                    ids[ref] = ep.id
                    episodes += 1
                elif trigger == "allocate" and claim is not None:
                    # The duty worker claims the person from the team's queue (self-allocation).
                    ep = claim(ids[ref], e["worker"], actor=e["worker"])
                    claims += 1
                else:
                    ep = engine.fire(ids[ref], trigger, occurred_at=e["occurred_at"], worker=e["worker"],
                                     outcome=e["outcome"], keep_worker=e["keep_worker"], to=e["to"])
                    if ep.stage == "closed":
                        del ids[ref]
                events += 1
                talk = extra.conversation(trigger, ep.stage)
                if talk is not None:  # held as the move is made: its instant, in the stage it led to
                    engine.record_conversation(ep.id, occurred_at=e["occurred_at"], actor=e["worker"] or "demo",
                                               **talk)
                    conversations += 1
            if track is not None:  # the nightly wait tracking, as beat would run it
                clock.at = _end_of(date)
                track()
                tracked += 1
            progress.update(task, advance=1, episodes=episodes, events=events)
    return {"episodes": episodes, "events": events, "claims": claims, "tracking_runs": tracked,
            "conversations": conversations}


def _report(engine, council) -> list[dict]:
    """Waits now and conversation 1's days to allocation over the demo's months, by client group."""
    reports = engine.reports
    waits = {r["client_group"]: r for r in reports.waits(group_by=["client_group"])}
    allocated = {r["client_group"]: r for r in reports.allocation(
        group_by=["client_group"], start=council.start, end=council.end, stage="c1_waiting")}
    rows = []
    for group in dict.fromkeys([*allocated, *waits]):
        w, a = waits.get(group, {}), allocated.get(group, {})
        rows.append({"client_group": group, "waiting": w.get("waiting", 0), "median_wait": w.get("median_days"),
                     "over_threshold": w.get("over_threshold", 0), "allocated": a.get("allocated", 0),
                     "mean_days": a.get("mean_days"), "median_days": a.get("median_days"),
                     "p90_days": a.get("p90_days")})
    rows.sort(key=lambda r: (-(r["median_days"] or 0), -(r["mean_days"] or 0)))
    return rows


@app.command()
def demo(
    seed: int = typer.Option(7, help="the synthetic council's seed: the same seed gives the same council"),
    months: int = typer.Option(4, help="months of contacts to run (1-24), ending yesterday"),
    database_url: str = typer.Option(None, "--database-url",
                                     help="the database to build it in (default: the one every command uses, "
                                          "PATHWAY_DATABASE_URL or ./pathway.db; an earlier demo there is replaced)"),
) -> None:
    """Build a demo council, run months of contacts through the pathway live, track waits, print waits by group."""
    from pathway.settings import load_settings

    try:
        url = demo_database(database_url or load_settings().database_url)
        result = run_demo(url, seed=seed, months=months)
    except PathwayError as exc:
        fail(exc)
    c = result["council"]
    if not console.is_terminal:  # piped output: wide enough that the group names are not cut
        console.width = max(console.width, 120)
    console.print(f"{result['teams']} teams, {result['workers']} workers; {result['episodes']:,} contacts and "
                  f"{result['events']:,} events from {c.start} to {c.end} (seed {seed}); "
                  f"{result['claims']:,} self-allocations; wait tracking ran {result['tracking_runs']} times; "
                  f"{result['conversations']:,} conversations held, {result['welfare_checks']:,} welfare checks and "
                  f"{result['audits']:,} case-file audits recorded.")
    print_rows(result["rows"], title="Waits by client group", columns=COLUMNS)
    console.print(f"waiting, median wait, over threshold: people waiting today; allocated, mean/median/p90 days: "
                  f"days to allocation in conversation 1, {c.start} to {c.end}.")
    console.print(f"Database: {url}" + ("" if database_url else " (every pathway command uses it)"))
    console.print("Next, try:")
    width = max(len(command) for command, _ in NEXT)
    for command, what in NEXT:
        console.print(f"  {command:<{width}}  # {what}", highlight=False, markup=False)
