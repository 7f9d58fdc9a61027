"""The scrutiny panel on the command line: its reports and the pack (``pathway report …``), case-file
audits (``pathway audit sample|record``), welfare checks in bulk (``pathway outreach import``) and a
conversation held (``pathway episode conversation``)."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path

import typer

from pathway.cli.app import Format, app, console, err_console, fail, get_engine, print_rows, with_engine
from pathway.cli.episodes import episode_app
from pathway.cli.reports import FORMAT, FROM, TEAM, TO, _run, report_app
from pathway.errors import PathwayError

audit_app = typer.Typer(help="Case-file audits: a reproducible sample, and audits recorded against it.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")
outreach_app = typer.Typer(help="Welfare checks and outreach recorded in bulk.", no_args_is_help=True)
app.add_typer(outreach_app, name="outreach")


class By(enum.StrEnum):
    week = "week"
    month = "month"
    period = "period"


BY = typer.Option(By.month, "--by", help="week, month or period (the whole period as one row)")
COHORT = typer.Option(None, "--cohort", help="a configured cohort: its measures against the rest")


@report_app.command("three-conversations")
def three_conversations(start: str = FROM, end: str = TO, by: By = BY, cohort: str = COHORT, team: str = TEAM,
                        fmt: Format = FORMAT) -> None:
    """Three Conversations measures of the period's contacts, by cohort, with 95 % Wilson intervals."""
    _run("Three Conversations", fmt, lambda r: r.three_conversations(start=start, end=end, by=by.value,
                                                                     cohort=cohort, team=team))


@report_app.command("first-conversation")
def first_conversation(start: str = FROM, end: str = TO, team: str = TEAM, fmt: Format = FORMAT) -> None:
    """Days to the first conversation held, per conversation and client group."""
    _run("Days to the first conversation held", fmt,
         lambda r: r.first_conversation(start=start, end=end, team=team))


@report_app.command("conversations")
def conversations(start: str = FROM, end: str = TO, by: By = BY, team: str = TEAM, fmt: Format = FORMAT) -> None:
    """Conversations held per week or month and mode."""
    _run("Conversations held", fmt, lambda r: r.conversations(start=start, end=end, by=by.value, team=team))


@report_app.command("welfare-checks")
def welfare_checks(start: str = FROM, end: str = TO, by: By = typer.Option(By.week, "--by", help="week or month"),
                   team: str = TEAM, fmt: Format = FORMAT) -> None:
    """Welfare checks made per week or month and outcome."""
    _run("Welfare checks", fmt, lambda r: r.welfare_checks(start=start, end=end, by=by.value, team=team))


@report_app.command("audits")
def audits(start: str = FROM, end: str = TO, team: str = TEAM,
           by: str = typer.Option("team", "--by", help="team or council"), fmt: Format = FORMAT) -> None:
    """Case-file audits per quarter: sampled, audited, coverage, good or better and its change."""
    _run("Case-file audits", fmt, lambda r: r.audits(start=start, end=end, team=team, by=by))


@report_app.command("pack")
def pack(start: str = typer.Option(..., "--from", help="first day (YYYY-MM-DD)"),
         end: str = typer.Option(..., "--to", help="last day (YYYY-MM-DD)"), team: str = TEAM, cohort: str = COHORT,
         out: Path = typer.Option(Path("pack.html"), "--out", "-o", help="where to write the HTML"),
         as_pdf: bool = typer.Option(False, "--pdf", help="also print it to PDF beside the HTML (WeasyPrint)")) -> None:
    """The scrutiny pack: one self-contained, printable HTML document (and PDF)."""
    from pathway.services import pack as packs

    engine = get_engine()
    try:
        document = engine.reports.pack(start=start, end=end, team=team, cohort=cohort)
        out.write_text(document, encoding="utf-8")
        err_console.print(f"wrote {out}")
        if as_pdf:
            target = out.with_suffix(".pdf")
            target.write_bytes(packs.pdf(document))
            err_console.print(f"wrote {target}")
    except PathwayError as exc:
        fail(exc)
    finally:
        engine.dispose()


@audit_app.command("sample")
def sample(start: str = typer.Option(..., "--from", help="first day of the period (YYYY-MM-DD)"),
           end: str = typer.Option(..., "--to", help="last day of the period (YYYY-MM-DD)"),
           rate: str = typer.Option(..., "--rate", help="the share drawn, above 0 and at most 1 (0.05 is 5 %)"),
           stratify: str = typer.Option(None, "--stratify", help="client_group, team or both, comma-separated"),
           seed: int = typer.Option(..., "--seed", help="the same seed gives the same sample"),
           fmt: Format = FORMAT) -> None:
    """Draw a reproducible stratified sample of the episodes active or closed in the period."""
    drawn = with_engine(lambda engine: engine.audit_sample(start, end, rate, seed=seed, stratify=stratify))
    if fmt == Format.json:
        sys.stdout.write(json.dumps(drawn, indent=2, default=str) + "\n")
        return
    err_console.print(f"sample {drawn['sample_id']}: {drawn['sampled']} of {drawn['population']} episodes "
                      f"(rate {drawn['rate']}, seed {drawn['seed']}, strata: {', '.join(drawn['stratify']) or 'none'})")
    print_rows(drawn["episodes"], fmt, title="Sampled episodes")


@audit_app.command("record")
def record(episode: int = typer.Argument(..., help="the episode audited"),
           rating: str = typer.Option(..., "--rating", help="outstanding, good, requires_improvement, inadequate"),
           auditor: str = typer.Option(None, "--auditor", help="who audited it (default: --actor)"),
           on: str = typer.Option(None, "--on", help="the date of the audit (default today)"),
           themes: str = typer.Option(None, "--themes", help="themes found, comma-separated"),
           reason: str = typer.Option(None, "--reason", help="why, when the episode is in no sample"),
           actor: str = typer.Option("cli", "--actor", help="who records it")) -> None:
    """Record a case-file audit of an episode."""
    row = with_engine(lambda engine: engine.record_audit(episode, rating, auditor=auditor or actor, audited_on=on,
                                                         themes=themes, reason=reason, actor=actor))
    console.print(f"audit {row['id']}: episode {episode} rated {row['rating']} on {row['audited_on']}"
                  + ("" if row["in_sample"] else " (outside the sample)"))


@outreach_app.command("import")
def outreach_import(file: Path = typer.Argument(..., help="CSV: person_ref, team, when, outcome[, client_group]"),
                    actor: str = typer.Option("outreach", "--actor", help="who is recording the checks")) -> None:
    """Record welfare checks made, all or nothing: every bad row is listed and nothing is written."""
    engine = get_engine(actor="outreach")
    try:
        summary = engine.import_outreach(str(file), actor=actor)
    except PathwayError as exc:
        errors = exc.extra.get("errors")
        if not errors:
            fail(exc)
        err_console.print(f"[bold red]refused:[/] {exc.extra.get('error_count', len(errors))} bad rows in {file}; "
                          "nothing was written")
        for e in errors:
            err_console.print(f"  line {e['line']}: {e['reason']}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"recorded {summary.rows} checks from {file}: {summary.on_open_episode} on open episodes, "
                  f"{summary.resolved_contacts} resolved contacts, {summary.follow_up_contacts} follow-up contacts, "
                  f"{summary.unchanged} already recorded")


@episode_app.command("conversation")
def conversation(episode: int = typer.Argument(..., help="the episode"),
                 status: str = typer.Argument(..., help="booked, held, cancelled or not_attended"),
                 mode: str = typer.Option(None, "--mode", help="phone, video, home_visit or community_venue"),
                 at: str = typer.Option(None, "--at", help="booked: the time booked for"),
                 minutes: int = typer.Option(None, "--minutes", help="held: how long it took"),
                 occurred_at: str = typer.Option(None, "--occurred-at", help="when (default now)"),
                 note: str = typer.Option(None, "--note"),
                 actor: str = typer.Option("cli", "--actor", help="who records it")) -> None:
    """Record a conversation with the person; the episode's stage stays as it is (the same event as
    pathway episode fire ID conversation --status STATUS …)."""
    ep = with_engine(lambda engine: engine.fire(episode, "conversation", status=status, mode=mode, at=at,
                                                minutes=minutes, occurred_at=occurred_at, note=note, actor=actor))
    console.print(f"episode {ep.id}: conversation {status} recorded (stage {ep.stage}, version {ep.version})")
