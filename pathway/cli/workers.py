"""Background work commands: the Celery worker and beat, wait tracking and the outbox on demand, webhooks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pathway.cli.app import (
    Format,
    app,
    console,
    err_console,
    fail,
    get_engine,
    migrate_on_start,
    print_error,
    print_rows,
    with_engine,
)
from pathway.errors import PathwayError, SetupError

webhook_app = typer.Typer(help="Webhook subscriptions and their delivery log.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

WEBHOOK_COLUMNS = ("id", "url", "events", "teams", "active", "consecutive_failures", "paused_reason", "created_at")
DELIVERY_COLUMNS = ("id", "webhook_id", "outbox_id", "episode_id", "kind", "status", "attempts", "last_status",
                    "last_error", "next_attempt_at", "delivered_at")


def _celery(need_broker: str | None = None):
    """The Celery app; for a command that needs the broker (``need_broker`` names it), SetupError when
    none is set or it does not answer."""
    from workers.app import app as celery_app

    if need_broker:
        from pathway.services.environment import require_broker

        try:
            require_broker(celery_app.pathway_settings.broker_url, need_broker)
        except SetupError as exc:
            fail(exc)
    return celery_app


def _send(task: str, **kwargs) -> bool:
    """Send a task through the broker when one is configured; False means: run it here instead."""
    from kombu.exceptions import OperationalError

    celery_app = _celery()
    if celery_app.conf.task_always_eager:
        return False
    try:
        result = celery_app.send_task(task, kwargs=kwargs)
    except OperationalError as exc:
        print_error(f"the broker {celery_app.conf.broker_url} is unreachable ({exc}); nothing is lost: run again "
                    "when it is back, or add --here to run in this process")
        raise typer.Exit(2) from None
    console.print(f"sent {task} (task {result.id}) to {celery_app.conf.broker_url}")
    return True


@app.command()
def worker(concurrency: int = typer.Option(2, "--concurrency", "-c", help="processes for tasks"),
           pool: str = typer.Option("prefork", "--pool", help="prefork, solo or threads"),
           loglevel: str = typer.Option("INFO", "--loglevel", "-l")) -> None:
    """Run a Celery worker on PATHWAY_BROKER_URL (start as many as you like, on as many machines)."""
    celery_app = _celery("worker")
    migrate_on_start()
    celery_app.worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}",
                            f"--queues={celery_app.conf.task_default_queue}"])


@app.command()
def beat(loglevel: str = typer.Option("INFO", "--loglevel", "-l"),
         schedule_file: str | None = typer.Option(None, "--schedule-file",
                                                  help="where beat keeps its last run times (default: "
                                                       "celerybeat-schedule in PATHWAY_STATE_DIR)")) -> None:
    """Run the scheduler (exactly one per deployment): outbox relay every few seconds, track_waits hourly."""
    celery_app = _celery("beat")
    if schedule_file is None:
        state = Path(celery_app.pathway_settings.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        schedule_file = str(state / "celerybeat-schedule")
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule_file}"])


@app.command("track-waits")
def track_waits(as_at: str | None = typer.Option(None, "--as-at", help="the day to snapshot (default today)"),
                team: str | None = typer.Option(None, "--team", help="one team only"),
                here: bool = typer.Option(False, "--here", help="run in this process even when a broker is set"),
                format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """Snapshot waits (back-filling missed days) and record breaches: through the broker when one is set."""
    if not here and _send("pathway.track_waits", as_at=as_at, team=team):
        return
    engine = get_engine(actor="track-waits")
    try:
        result = engine.track_waits(as_at=as_at, team=team)
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()
    if format == Format.json:
        typer.echo(json.dumps(result, indent=2))
        return
    rows = [{"day": day, "snapshot_rows_written": n} for day, n in result["snapshots"].items()]
    print_rows(rows, format, title=f"wait snapshots up to {result['as_at']}")
    if format == Format.table:
        console.print(f"new breaches: {result['breaches']}")


@app.command("dispatch-outbox")
def dispatch_outbox(here: bool = typer.Option(False, "--here", help="run in this process even when a broker is set"),
                    format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """Relay pending outbox rows to webhook subscribers and send what is due (beat does this every few seconds)."""
    if not here and _send("pathway.dispatch_outbox"):
        return
    engine = get_engine(actor="dispatch-outbox")
    try:
        result = engine.dispatch_outbox()
    finally:
        engine.dispose()
    print_rows([result], format, title="outbox")


@webhook_app.command("add")
def webhook_add(url: str = typer.Argument(..., help="https:// URL to POST to (http:// only to allowed hosts)"),
                events: list[str] = typer.Option(..., "--events", help="event kinds, comma-separated or repeated"),
                teams: str | None = typer.Option(None, "--teams", help="only these teams' events, comma-separated"),
                secret: str | None = typer.Option(None, "--secret", envvar="PATHWAY_WEBHOOK_SECRET",
                                                  help="a whsec_ signing secret; left out, one is made and shown once"),
                format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """Subscribe URL to event kinds (episode.<trigger>, episode.record_contact, breach): Standard Webhooks posts."""
    kinds = [k.strip() for e in events for k in e.split(",") if k.strip()]
    hook = with_engine(lambda engine: engine.add_webhook(url, kinds, secret, teams=teams))
    _show_secret(hook)
    shown = {k: v for k, v in hook.items() if k != "secret"}
    print_rows([{**shown, "events": ",".join(hook["events"])}], format, title="webhook added", columns=WEBHOOK_COLUMNS)


def _show_secret(hook: dict) -> None:
    if "secret" in hook:
        err_console.print(f"signing secret (shown once, give it to the receiver): {hook['secret']}")


@webhook_app.command("rotate")
def webhook_rotate(webhook_id: int = typer.Argument(..., help="the webhook's id"),
                   overlap: float | None = typer.Option(None, "--overlap", help="seconds the old secret also signs "
                                                        "(default: the webhooks.rotation_overlap setting)")) -> None:
    """A new signing secret (shown once); the old one also signs for the overlap, so the receiver can switch."""
    hook = with_engine(lambda engine: engine.rotate_webhook_secret(webhook_id, overlap=overlap))
    _show_secret(hook)
    console.print(f"webhook {webhook_id}: the previous secret signs until {hook['previous_secret_until']}")


@webhook_app.command("redeliver")
def webhook_redeliver(webhook_id: int = typer.Argument(..., help="the webhook's id"),
                      delivery_id: int = typer.Argument(..., help="the delivery's id (webhook deliveries)")) -> None:
    """Send one delivery again, whatever its status."""
    with_engine(lambda engine: engine.redeliver(webhook_id, delivery_id))
    console.print(f"webhook {webhook_id} delivery {delivery_id} will be sent again")


@webhook_app.command("list")
def webhook_list(format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """Every subscription, with whether it is paused and why (never its secret)."""
    hooks = with_engine(lambda engine: engine.webhooks())
    print_rows([{**h, "events": ",".join(h["events"])} for h in hooks], format, title="webhooks",
               columns=WEBHOOK_COLUMNS)


@webhook_app.command("resume")
def webhook_resume(webhook_id: int = typer.Argument(..., help="the webhook's id")) -> None:
    """Un-pause a subscriber; the deliveries that waited go out on the next dispatch."""
    with_engine(lambda engine: engine.resume_webhook(webhook_id))
    console.print(f"webhook {webhook_id} resumed")


@webhook_app.command("deliveries")
def webhook_deliveries(webhook: int | None = typer.Option(None, "--webhook", help="one subscription only"),
                       format: Format = typer.Option(Format.table, "--format", help="table, json or csv")) -> None:
    """The delivery log: status, attempts and the last answer of each delivery."""
    rows = with_engine(lambda engine: engine.deliveries(webhook))
    print_rows(rows, format, title="deliveries", columns=DELIVERY_COLUMNS)
