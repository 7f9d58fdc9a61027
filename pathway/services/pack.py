"""The scrutiny pack: one self-contained, printable HTML document for a scrutiny panel.

Every figure in it comes from the report functions themselves (``engine.reports``), gathered by
:func:`gather`; :func:`render` lays them out as tables, each with an inline SVG chart (no scripts,
no fonts or files from elsewhere), each figure's definition in a footnote, and the period and the
data's as-at time printed. ``pdf`` prints the same HTML with WeasyPrint (the ``pdf`` extra).
"""

from __future__ import annotations

import dataclasses
import html

from pathway.domain import days
from pathway.errors import ValidationError

LD_MH = ("learning_disability", "mental_health")
RATE_LABELS = {
    "resolved_at_contact": "resolved at contact", "met_at_c1": "met at conversation 1",
    "needing_c2": "needing conversation 2", "going_to_c3": "going on to conversation 3",
    "long_term_support": "closed with long-term support", "repeat_contacts": "repeat contacts",
}
# Each figure's definition as the footnotes print it (the reference is docs/scrutiny.md and docs/reports.md).
NOTES = {
    "days_to_allocation": "Days to allocation: calendar days (or working days, as configured) from the contact to the "
                          "first allocation of conversation 1, for the first allocations made in the month; a release "
                          "does not restart the clock. Medians are interpolated (the median of 3 and 11 is 7).",
    "by_client_group": "By client group: the same days to allocation over the whole period, per client group; "
                       "learning disability and mental health are drawn darker against the rest.",
    "front_door": "The front door: contacts made in the month, and the share of them resolved at contact so far "
                  "(information and advice, signposting, a welfare check).",
    "three_conversations": "Three Conversations measures follow the period's contacts to wherever their episodes have "
                           "gone so far; each rate is a share of the contacts (the denominator shown), with its 95 % "
                           "Wilson interval. A repeat contact comes within the configured window after the closure of "
                           "another episode of the same person. New people needing long-term support: people closed "
                           "with long-term support for the first time, per week of the period.",
    "conversations": "Conversations held: conversation events with status held, by the month held and mode. Days to "
                     "first conversation held: from the contact (conversation 1) or from entering the queue "
                     "(conversations 2 and 3) to the first conversation held in it, counted when held.",
    "welfare_checks": "Welfare checks: checks made and recorded in bulk (pathway outreach import), by the month made "
                      "and outcome; each is on the person's open episode or on a contact it opened.",
    "audits": "Case-file audits: audits recorded in the quarter; coverage is audits ÷ people served (people with an "
              "episode active or closed in the quarter); good or better is outstanding or good, with its 95 % Wilson "
              "interval; the change is in percentage points from the quarter before.",
    "workforce": "Workforce: caseloads are each team's active episodes against its workers' caps now; supervision "
                 "compliance as its report defines it.",
}


@dataclasses.dataclass
class Section:
    key: str
    title: str
    tables: list[tuple[str, list[str], list[dict]]]  # (report name, columns, rows): the report's own rows
    chart: str = ""
    lead: str = ""


def gather(reports, start=None, end=None, team: str | None = None, cohort: str | None = None) -> dict:
    """Every figure of the pack, straight from the report functions: {section key: {report name: rows}}."""
    first, last = reports.period(start, end, default_days=365)
    if first > reports.today():
        raise ValidationError(f"from {first} is in the future; a pack covers days up to today", field="from")
    last = min(last, reports.today())
    cohorts = reports.settings.scrutiny.cohorts
    if cohort is None and cohorts:
        cohort = next(iter(cohorts))
    a, b = first.isoformat(), last.isoformat()
    data = {
        "days_to_allocation": {
            "trends": reports.trends(group_by=[], start=a, end=b, period="month", team=team, stage="c1_waiting"),
            "allocation": reports.allocation(group_by=[], start=a, end=b, team=team, stage="c1_waiting")},
        "by_client_group": {
            "allocation": reports.allocation(group_by=["client_group"], start=a, end=b, team=team,
                                             stage="c1_waiting")},
        "front_door": {"outcomes": reports.outcomes(group_by=[], start=a, end=b, team=team)},
        "three_conversations": {
            "three_conversations": reports.three_conversations(start=a, end=b, by="period", cohort=cohort, team=team)},
        "conversations": {"conversations": reports.conversations(start=a, end=b, by="month", team=team),
                          "first_conversation": reports.first_conversation(start=a, end=b, team=team)},
        "welfare_checks": {"welfare_checks": reports.welfare_checks(start=a, end=b, by="month", team=team)},
        "audits": {"audits": reports.audits(start=a, end=b, team=team, by="council" if team is None else "team")},
        "workforce": {"caseloads": reports.caseloads(team=team, by="team")},
    }
    if hasattr(reports, "supervision"):  # the workforce report, where the engine has it
        data["workforce"]["supervision"] = reports.supervision(team=team)
    return {"from": first, "to": last, "team": team, "cohort": cohort, "as_at": reports.engine.now(),
            "sections": data}


# -- charts: inline SVG ------------------------------------------------------------------------------

def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def bar_chart(labels, values, *, highlight=(), ref=None, ref_label="", unit="", width=680, height=230) -> str:
    """Vertical bars, one per label (None drawn as no bar), an optional dashed reference line."""
    rotate = len(labels) > 6 and max((len(str(x)) for x in labels), default=0) > 8
    left, bottom, top = 44, 90 if rotate else 48, 22
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([v for v in values if v is not None] + ([ref] if ref is not None else []) + [1])
    step = plot_w / max(len(labels), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" class="chart">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
             f'<text x="4" y="{top + 4}" font-size="10">{_fmt(round(peak, 1))} {html.escape(unit)}</text>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * step + step * 0.15
        if value is not None:
            h = plot_h * value / peak
            colour = "#1d4f91" if label in highlight else "#8fb0d9"
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{html.escape(str(label))}: {_fmt(value)}</title></rect>')
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{top + plot_h - h - 3:.1f}" font-size="10" '
                         f'text-anchor="middle">{_fmt(value)}</text>')
        cx, cy = x + step * 0.35, top + plot_h + 14
        turn = f' transform="rotate(-35 {cx:.1f} {cy})"' if rotate else ""
        parts.append(f'<text x="{cx:.1f}" y="{cy}" font-size="10" text-anchor="{"end" if rotate else "middle"}"'
                     f'{turn}>{html.escape(str(label))}</text>')
    if ref is not None:
        y = top + plot_h - plot_h * ref / peak
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#c0392b" '
                     f'stroke-dasharray="5,3"/><line x1="{left + plot_w - 200}" y1="8" x2="{left + plot_w - 180}" '
                     f'y2="8" stroke="#c0392b" stroke-dasharray="5,3"/><text x="{left + plot_w - 176}" y="11" '
                     f'font-size="10" fill="#c0392b">{html.escape(ref_label)}: {_fmt(ref)}</text>')
    parts.append("</svg>")
    return "".join(parts)


PALETTE = ("#1d4f91", "#e08a2c", "#3c9d5d", "#8e5ea2", "#c0392b")


def stacked_chart(labels, series: dict[str, list], *, width=680, height=230) -> str:
    """Stacked bars: one bar per label, one colour per series, with a legend."""
    left, bottom, top = 44, 62, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    totals = [sum(s[i] or 0 for s in series.values()) for i in range(len(labels))]
    peak = max(totals + [1])
    step = plot_w / max(len(labels), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" class="chart">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
             f'<text x="4" y="{top + 4}" font-size="10">{peak}</text>']
    for i, label in enumerate(labels):
        x, y = left + i * step + step * 0.15, top + plot_h
        for (name, values), colour in zip(series.items(), PALETTE, strict=False):
            h = plot_h * (values[i] or 0) / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{html.escape(str(label))} {html.escape(name)}: {values[i]}</title></rect>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{html.escape(str(label))}</text>')
    for k, (name, colour) in enumerate(zip(series, PALETTE, strict=False)):
        lx = left + k * 150
        legend = html.escape(name.replace("_", " "))
        parts.append(f'<rect x="{lx}" y="{height - 18}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{height - 9}" font-size="10">{legend}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(rows: list[tuple[str, dict[str, tuple]]], *, width=680) -> str:
    """Rates with their 95 % intervals on a 0-100 % axis: one line per measure, a dot and whisker per group."""
    groups = list(rows[0][1]) if rows else []
    left, line_h, top = 190, 26, 16
    height = top + line_h * len(rows) + 36
    plot_w = width - left - 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" class="chart">']
    for pct in (0, 25, 50, 75, 100):
        x = left + plot_w * pct / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{top + line_h * len(rows)}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{top + line_h * len(rows) + 12}" font-size="10" '
                     f'text-anchor="middle">{pct} %</text>')
    for r, (label, by_group) in enumerate(rows):
        y0 = top + r * line_h + 8
        parts.append(f'<text x="4" y="{y0 + 4}" font-size="11">{html.escape(label)}</text>')
        for g, (name, colour) in enumerate(zip(groups, PALETTE, strict=False)):
            pct, low, high = by_group[name]
            if pct is None:
                continue
            y = y0 - 4 + g * 8
            x, xl, xh = (left + plot_w * v / 100 for v in (pct, low, high))
            parts.append(f'<line x1="{xl:.1f}" y1="{y}" x2="{xh:.1f}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
                         f'<circle cx="{x:.1f}" cy="{y}" r="3.5" fill="{colour}"><title>{html.escape(name)} '
                         f'{html.escape(label)}: {pct} % ({low}–{high})</title></circle>')
    for g, (name, colour) in enumerate(zip(groups, PALETTE, strict=False)):
        lx = left + g * 150
        parts.append(f'<circle cx="{lx + 5}" cy="{height - 8}" r="4" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{height - 4}" font-size="10">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- the document --------------------------------------------------------------------------------------

def _sections(pack: dict) -> list[Section]:
    s = pack["sections"]
    out = []
    trends = s["days_to_allocation"]["trends"]
    overall = s["days_to_allocation"]["allocation"][0]
    months = [str(r["period_start"])[:7] for r in trends]
    out.append(Section("days_to_allocation", "Days to allocation for conversation 1, by month", [
        ("trends", ["period_start", "allocated", "mean_days_to_allocation", "median_days_to_allocation"], trends),
        ("allocation", ["allocated", "mean_days", "median_days", "p90_days"], [overall])],
        bar_chart(months, [r["median_days_to_allocation"] for r in trends], ref=overall["median_days"],
                  ref_label="median of the period", unit="days"),
        "The median days to allocation of each month's first allocations, against the period's median."))
    groups = s["by_client_group"]["allocation"]
    out.append(Section("by_client_group", "Waits by client group: learning disability and mental health against "
                       "the rest", [("allocation", ["client_group", "allocated", "mean_days", "median_days",
                                                    "p90_days"], groups)],
                       bar_chart([r["client_group"] for r in groups], [r["median_days"] for r in groups],
                                 highlight=LD_MH, unit="days")))
    flow = s["front_door"]["outcomes"]
    out.append(Section("front_door", "The front door", [
        ("outcomes", ["month", "contacts", "resolved_at_contact", "share_resolved_at_contact", "c1_started",
                      "crises", "repeat_contacts"], flow)],
        stacked_chart([r["month"] for r in flow], {
            "resolved at contact": [r["resolved_at_contact"] for r in flow],
            "other contacts": [max(r["contacts"] - r["resolved_at_contact"], 0) for r in flow]})))
    tc = s["three_conversations"]["three_conversations"]
    out.append(Section("three_conversations", "Three Conversations measures"
                       + (f": {pack['cohort']} against the rest" if pack["cohort"] else ""), [
        ("three_conversations", ["measure", "cohort", "people", "contacts", "pct", "low", "high"], rate_rows(tc)),
        ("three_conversations", ["cohort", "new_long_term_support", "weeks", "new_long_term_support_per_week",
                                 "first_conversations_held", "median_days_to_first_conversation"], tc)],
        interval_chart([(label, {r["cohort"]: (r[f"{name}_pct"], r[f"{name}_low"], r[f"{name}_high"]) for r in tc})
                        for name, label in RATE_LABELS.items()]),
        "Each rate with its 95 % interval: where the intervals do not overlap the difference is more than noise."))
    held = s["conversations"]["conversations"]
    by_mode = pivot(held, "mode", "held")
    first = [r for r in s["conversations"]["first_conversation"] if r["people"]]
    out.append(Section("conversations", "Conversations held", [
        ("conversations", ["month", *by_mode, "minutes"], pivot_rows(held, "mode", "held", "minutes")),
        ("first_conversation", ["conversation", "client_group", "people", "mean_days", "median_days", "p90_days"],
         first)], stacked_chart(months_of(held), by_mode)))
    checks = s["welfare_checks"]["welfare_checks"]
    by_outcome = pivot(checks, "outcome", "checks")
    out.append(Section("welfare_checks", "Welfare checks made", [
        ("welfare_checks", ["month", *by_outcome], pivot_rows(checks, "outcome", "checks"))],
        stacked_chart(months_of(checks), by_outcome)))
    audits = s["audits"]["audits"]
    out.append(Section("audits", "Case-file audits", [
        ("audits", ["quarter", "team", "sampled", "audited", "served", "coverage_pct", "good_or_better",
                    "good_or_better_pct", "good_or_better_low", "good_or_better_high", "change_pct_points"], audits)],
        interval_chart([(f"{r['quarter']} {r['team']}", {"good or better": (
            r["good_or_better_pct"], r["good_or_better_low"], r["good_or_better_high"])}) for r in audits])))
    work = s["workforce"]
    tables = [("caseloads", ["team", "workers", "caseload", "capacity", "over_cap"], work["caseloads"])]
    if "supervision" in work and work["supervision"]:
        tables.append(("supervision", list(work["supervision"][0]), work["supervision"]))
    out.append(Section("workforce", "Workforce", tables, bar_chart(
        [r["team"] for r in work["caseloads"]], [r["caseload"] for r in work["caseloads"]], unit="active")))
    return out


def rate_rows(rows: list[dict]) -> list[dict]:
    """The Three Conversations rates one per line: measure, cohort, people, contacts (the denominator), the
    share and its interval, each the report's own value."""
    return [{"measure": label, "cohort": r["cohort"], "people": r[name], "contacts": r["contacts"],
             "pct": r[f"{name}_pct"], "low": r[f"{name}_low"], "high": r[f"{name}_high"]}
            for name, label in RATE_LABELS.items() for r in rows]


def months_of(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(str(r["period_start"])[:7] for r in rows))


def pivot(rows: list[dict], key: str, figure: str) -> dict[str, list]:
    """{value of ``key``: [``figure`` of each period in turn]} from a report's period × key rows."""
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r[figure])
    return out


def pivot_rows(rows: list[dict], key: str, figure: str, total: str | None = None) -> list[dict]:
    """One line per month: ``figure`` per value of ``key`` (and the sum of ``total``), the report's own counts."""
    out: dict[str, dict] = {}
    for r in rows:
        line = out.setdefault(str(r["period_start"])[:7], {"month": str(r["period_start"])[:7]})
        line[r[key]] = r[figure]
        if total is not None:
            line[total] = line.get(total, 0) + r[total]
    return list(out.values())


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#222;margin:24px;max-width:980px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px;border-bottom:2px solid #1d4f91}
.meta{color:#555;font-size:13px} table{border-collapse:collapse;font-size:11px;margin:8px 0}
th,td{border:1px solid #ccc;padding:2px 5px;text-align:right} th{background:#eef2f8}
td.text,th.text{text-align:left} .note{font-size:11px;color:#444} .chart{display:block;margin:6px 0}
section{page-break-inside:avoid} @page{size:A4;margin:14mm} @media print{body{margin:0}}
"""


def render(pack: dict) -> str:
    """The pack as one self-contained HTML document."""
    as_at = pack["as_at"].astimezone(days.LONDON)
    scope = f"team {pack['team']}" if pack["team"] else "the whole council"
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>Scrutiny pack {pack['from']} to {pack['to']}</title><style>{CSS}</style></head><body>",
             "<h1>Adult social care: Three Conversations scrutiny pack</h1>",
             f"<p class='meta'>Period {pack['from']:%d %B %Y} to {pack['to']:%d %B %Y}, {html.escape(scope)}. "
             f"Data as at {as_at:%d %B %Y %H:%M} (London).</p>"]
    for n, section in enumerate(_sections(pack), start=1):
        parts.append(f"<section id='{section.key}'><h2>{n}. {html.escape(section.title)}</h2>")
        if section.lead:
            parts.append(f"<p class='note'>{html.escape(section.lead)}</p>")
        parts.append(section.chart)
        for report, columns, rows in section.tables:
            parts.append(_table(section.key, report, columns, rows))
        parts.append(f"<p class='note'><sup>{n}</sup> {html.escape(NOTES[section.key])}</p></section>")
    parts.append("</body></html>")
    return "".join(parts)


def _table(section: str, report: str, columns: list[str], rows: list[dict]) -> str:
    head = "".join(f"<th class='{'text' if not _numeric(rows, c) else ''}'>{html.escape(c.replace('_', ' '))}</th>"
                   for c in columns)
    body = "".join("<tr>" + "".join(f"<td class='{'text' if not _numeric(rows, c) else ''}'>"
                                    f"{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    if not rows:
        body = f"<tr><td class='text' colspan='{len(columns)}'>none in the period</td></tr>"
    return (f"<table data-section='{section}' data-report='{report}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _numeric(rows: list[dict], column: str) -> bool:
    sample = next((r[column] for r in rows if r.get(column) is not None), None)
    return isinstance(sample, int | float) and not isinstance(sample, bool)


def pdf(document: str) -> bytes:
    """The pack printed to PDF with WeasyPrint (``pip install pathway-engine[pdf]``)."""
    try:
        import weasyprint
    except ImportError:
        raise ValidationError("--pdf needs WeasyPrint: pip install 'pathway-engine[pdf]'", field="pdf") from None
    return weasyprint.HTML(string=document).write_pdf()
