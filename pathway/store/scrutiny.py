"""The scrutiny panel's SQL: the Three Conversations measures by period and cohort, conversations held,
days to the first conversation held, and welfare checks made, as set-based statements.

Each figure is defined once, in docs/scrutiny.md; the statements return counts and unrounded
medians, and the service (pathway.services.scrutiny) works out the rates and their intervals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain.conversations import KIND as CONVERSATION
from pathway.domain.conversations import MODES
from pathway.domain.episode import EpisodeState
from pathway.domain.scrutiny import OUTREACH_OUTCOMES, WELFARE_CHECK
from pathway.domain.stages import CONVERSATIONS
from pathway.store.episodes import STATE_COLUMNS
from pathway.store.reports import (
    CLOSING,
    MEDIAN,
    P90,
    const,
    date_param,
    day_count,
    one_of,
    percentile,
    periods_table,
    repeats_among,
)
from pathway.store.tables import EPISODE, EVENT


@dataclasses.dataclass(frozen=True)
class Split:
    """How episodes are split: by a cohort (its teams and contact routes: 'cohort' against 'rest'),
    or not at all ('all')."""

    teams: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    split: bool = False

    @property
    def values(self) -> tuple[str, ...]:
        return ("cohort", "rest") if self.split else ("all",)

    def label(self, episode):
        """SQL: 'cohort' or 'rest' for an episode row (or 'all')."""
        if not self.split:
            return sa.literal_column("'all'", sa.String())
        conds = []
        if self.teams:
            conds.append(episode.c.team.in_([sa.literal(t, sa.String()) for t in self.teams]))
        if self.routes:
            conds.append(episode.c.route.in_([sa.literal(r, sa.String()) for r in self.routes]))
        inside = sa.or_(*conds) if conds else sa.false()
        return sa.case((inside, sa.literal_column("'cohort'", sa.String())),
                       else_=sa.literal_column("'rest'", sa.String()))


def _flag(condition):
    return sa.case((condition, const(1)), else_=const(0))


def _grid(agg, periods, name: str, values: Sequence[str], measures: Sequence[str], counts: Sequence[str]):
    """Every period × value, with its figures from ``agg`` (counts 0 where nothing happened)."""
    dim = sa.union_all(*[sa.select(sa.literal(v, sa.String()).label(name), const(i).label("ord"))
                         for i, v in enumerate(values)]).subquery(f"{name}_dim") if len(values) > 1 else \
        sa.select(sa.literal(values[0], sa.String()).label(name), const(0).label("ord")).subquery(f"{name}_dim")
    cols = [(sa.func.coalesce(agg.c[m], const(0)) if m in counts else agg.c[m]).label(m) for m in measures]
    on = sa.and_(agg.c.period_start == periods.c.period_start, agg.c[name] == dim.c[name])
    return (sa.select(periods.c.period_start, periods.c.period_end, dim.c[name], *cols)
            .select_from(periods.join(dim, sa.true()).outerjoin(agg, on))
            .order_by(periods.c.ord, dim.c.ord))


def _status(event):
    return event.c.data["status"].as_string()


def _part(stage_column):
    """'c1', 'c2' or 'c3' from a conversation stage column, in SQL."""
    return sa.case(*[(one_of(stage_column, [f"{c}_waiting", f"{c}_active"]), sa.literal_column(f"'{c}'"))
                     for c in CONVERSATIONS], else_=sa.null())


def _first_held(first, last, mode: str, team: str | None):
    """The first conversation held in each wait of a conversation (c1 from the contact, c2 and c3
    from entering their queue), held from ``first`` to ``last``: one row each, with the episode,
    the conversation, the days from the wait's start and the period's start of the row's day."""
    conv = EVENT.alias("held")
    earlier = EVENT.alias("earlier_held")
    before = (sa.select(earlier.c.id)
              .where(earlier.c.episode_id == conv.c.episode_id, earlier.c.seq < conv.c.seq,
                     earlier.c.trigger == CONVERSATION, _status(earlier) == "held",
                     earlier.c.wait_from == conv.c.wait_from, _part(earlier.c.from_stage) == _part(conv.c.from_stage))
              .exists())
    q = (sa.select(conv.c.episode_id, conv.c.occurred_on, _part(conv.c.from_stage).label("conversation"),
                   day_count(conv.c.wait_from_on, conv.c.occurred_on, mode).label("days"))
         .where(conv.c.trigger == CONVERSATION, conv.c.occurred_on >= first, conv.c.occurred_on <= last,
                _status(conv) == "held", conv.c.wait_from_on.is_not(None), ~before))
    if team is not None:
        q = q.join(EPISODE, EPISODE.c.id == conv.c.episode_id).where(EPISODE.c.team == team)
    return q.subquery("first_held")


# The stages an event of a contact's episode must enter to set one of its flags (resolve and the
# closures enter closed).
FLAGGED_STAGES = ("closed", "c2_waiting", "c2_active", "c3_waiting", "c3_active")


def three_conversations_select(spans, split: Split, repeat_days: int, mode: str, team: str | None = None):
    """The period's contacts followed to wherever their episodes have gone so far, per period (of
    the contact) and cohort: contacts, resolved at contact, met at c1, needing c2, going on to c3,
    closed with long-term support, repeat contacts."""
    periods = periods_table(spans)
    first, last = date_param(spans[0][0]), date_param(spans[-1][1])
    contact = EVENT.alias("contact")
    # The period's contacts with their episode's person and cohort, read once (materialised on
    # PostgreSQL) for both the flags and the repeats.
    contacts = (sa.select(contact.c.id.label("contact_id"), contact.c.episode_id, contact.c.occurred_at,
                          contact.c.occurred_on, EPISODE.c.person_ref, split.label(EPISODE).label("cohort"))
                .select_from(contact.join(EPISODE, EPISODE.c.id == contact.c.episode_id))
                .where(contact.c.trigger == "record_contact", contact.c.occurred_on >= first,
                       contact.c.occurred_on <= last))
    if team is not None:
        contacts = contacts.where(EPISODE.c.team == team)
    contacts = contacts.cte("contacts_in").prefix_with("MATERIALIZED", dialect="postgresql")
    later = EVENT.alias("later")
    closed_with = lambda outcome: sa.and_(later.c.to_stage == "closed", later.c.outcome == outcome)  # noqa: E731
    flags = (
        sa.select(contacts.c.contact_id, contacts.c.occurred_on, contacts.c.cohort,
                  sa.func.max(_flag(later.c.trigger == "resolve")).label("resolved"),
                  sa.func.max(_flag(closed_with("met_at_c1"))).label("met_at_c1"),
                  sa.func.max(_flag(one_of(later.c.to_stage, ["c2_waiting", "c2_active"]))).label("c2"),
                  sa.func.max(_flag(one_of(later.c.to_stage, ["c3_waiting", "c3_active"]))).label("c3"),
                  sa.func.max(_flag(closed_with("long_term_support"))).label("lts"))
        # Only the events that can set a flag, and none before the period: an episode's events come no
        # earlier than its contact (so the database can read the period's events by date, not them all).
        # An outer join: a contact whose episode has gone nowhere yet is still a contact.
        .select_from(contacts.outerjoin(later, sa.and_(later.c.episode_id == contacts.c.episode_id,
                                                       later.c.occurred_on >= first,
                                                       one_of(later.c.to_stage, FLAGGED_STAGES))))
        .group_by(contacts.c.contact_id, contacts.c.occurred_on, contacts.c.cohort)
        .subquery("flags"))
    repeats = repeats_among(contacts, spans[0][0], repeat_days, last)
    rows = (sa.select(periods.c.period_start, flags.c.cohort, flags.c.resolved,
                      flags.c.met_at_c1, flags.c.c2, flags.c.c3, flags.c.lts,
                      _flag(repeats.c.id.is_not(None)).label("repeat"))
            .select_from(flags.join(periods, sa.and_(flags.c.occurred_on >= periods.c.period_start,
                                                     flags.c.occurred_on <= periods.c.period_end))
                         .outerjoin(repeats, repeats.c.id == flags.c.contact_id)))
    rows = rows.subquery("contacts")
    agg = (sa.select(rows.c.period_start, rows.c.cohort, sa.func.count().label("contacts"),
                     *(sa.func.sum(rows.c[k]).label(k) for k in ("resolved", "met_at_c1", "c2", "c3", "lts", "repeat")))
           .group_by(rows.c.period_start, rows.c.cohort).subquery("agg"))
    counts = ("contacts", "resolved", "met_at_c1", "c2", "c3", "lts", "repeat")
    return _grid(agg, periods, "cohort", split.values, counts, counts)


def new_long_term_select(spans, split: Split, team: str | None = None):
    """People closed with long-term support for the first time (no earlier such closure of any
    episode of theirs), per period of that closure and cohort."""
    periods = periods_table(spans)
    first, last = date_param(spans[0][0]), date_param(spans[-1][1])
    lts = EVENT.alias("lts")
    other = EVENT.alias("earlier_lts")
    own = EPISODE.alias("own")
    theirs = EPISODE.alias("theirs")
    is_lts = lambda e: sa.and_(e.c.trigger.in_(("close", "resolve")), e.c.to_stage == "closed",  # noqa: E731
                               e.c.outcome == "long_term_support")
    # An earlier such closure of another episode, found on the episode rows: closed is the last stage, so
    # an episode closed with long-term support has that outcome and its closing event's time as closed_at
    # (an episode closes once). Only at the same instant is its closing event read, to order the two.
    closing_event = (sa.select(other.c.id).where(other.c.episode_id == theirs.c.id, other.c.trigger.in_(CLOSING))
                     .scalar_subquery())
    earlier = (sa.select(theirs.c.id)
               .where(theirs.c.person_ref == own.c.person_ref, theirs.c.id != own.c.id, theirs.c.stage == "closed",
                      theirs.c.outcome == "long_term_support",
                      sa.or_(theirs.c.closed_at < lts.c.occurred_at,
                             sa.and_(theirs.c.closed_at == lts.c.occurred_at, closing_event < lts.c.id)))
               .exists())
    rows = (sa.select(periods.c.period_start, split.label(own).label("cohort"))
            .select_from(lts.join(own, own.c.id == lts.c.episode_id)
                         .join(periods, sa.and_(lts.c.occurred_on >= periods.c.period_start,
                                                lts.c.occurred_on <= periods.c.period_end)))
            .where(is_lts(lts), lts.c.occurred_on >= first, lts.c.occurred_on <= last, ~earlier))
    if team is not None:
        rows = rows.where(own.c.team == team)
    rows = rows.subquery("new_lts")
    agg = (sa.select(rows.c.period_start, rows.c.cohort, sa.func.count().label("new_long_term_support"))
           .group_by(rows.c.period_start, rows.c.cohort).subquery("agg"))
    return _grid(agg, periods, "cohort", split.values, ["new_long_term_support"], ["new_long_term_support"])


def _ranked_days(rows, keys: Sequence[str]):
    """``rows`` with ROW_NUMBER and COUNT over each group of ``keys`` ordered by days, for percentiles."""
    window = {"partition_by": [rows.c[k] for k in keys], "order_by": rows.c.days, "rows": (None, None)}
    return sa.select(*rows.c, sa.func.row_number().over(**window).label("rn"),
                     sa.func.count().over(**window).label("n")).subquery("ranked")


def _days_measures(r):
    return [sa.func.count().label("people"), sa.func.sum(r.c.days).label("days_total"),
            percentile(r.c.days, r.c.rn, r.c.n, MEDIAN).label("median_days"),
            percentile(r.c.days, r.c.rn, r.c.n, P90).label("p90_days")]


def first_conversation_select(spans, split: Split, mode: str, team: str | None = None, conversation: str = "c1"):
    """Days to the first conversation held in ``conversation``, per period held and cohort."""
    periods = periods_table(spans)
    held = _first_held(date_param(spans[0][0]), date_param(spans[-1][1]), mode, team)
    rows = (sa.select(periods.c.period_start, split.label(EPISODE).label("cohort"), held.c.days)
            .select_from(held.join(EPISODE, EPISODE.c.id == held.c.episode_id)
                         .join(periods, sa.and_(held.c.occurred_on >= periods.c.period_start,
                                                held.c.occurred_on <= periods.c.period_end)))
            .where(held.c.conversation == conversation).subquery("days_rows"))
    r = _ranked_days(rows, ["period_start", "cohort"])
    agg = (sa.select(r.c.period_start, r.c.cohort, *_days_measures(r))
           .group_by(r.c.period_start, r.c.cohort).subquery("agg"))
    measures = ("people", "days_total", "median_days", "p90_days")
    return _grid(agg, periods, "cohort", split.values, measures, ("people",))


def first_by_group_select(first, last, client_groups: Sequence[str], mode: str, team: str | None = None):
    """Days to the first conversation held, per conversation and client group, held from ``first`` to ``last``."""
    held = _first_held(date_param(first), date_param(last), mode, team)
    rows = (sa.select(held.c.conversation, EPISODE.c.client_group, held.c.days)
            .select_from(held.join(EPISODE, EPISODE.c.id == held.c.episode_id)).subquery("days_rows"))
    r = _ranked_days(rows, ["conversation", "client_group"])
    agg = (sa.select(r.c.conversation, r.c.client_group, *_days_measures(r))
           .group_by(r.c.conversation, r.c.client_group).subquery("agg"))
    convs = sa.union_all(*[sa.select(sa.literal(c, sa.String()).label("conversation"), const(i).label("ord"))
                           for i, c in enumerate(CONVERSATIONS)]).subquery("conv_dim")
    groups = sa.union_all(*[sa.select(sa.literal(g, sa.String()).label("client_group"), const(i).label("ord"))
                            for i, g in enumerate(client_groups)]).subquery("group_dim")
    on = sa.and_(agg.c.conversation == convs.c.conversation, agg.c.client_group == groups.c.client_group)
    return (sa.select(convs.c.conversation, groups.c.client_group, sa.func.coalesce(agg.c.people, const(0))
                      .label("people"), agg.c.days_total, agg.c.median_days, agg.c.p90_days)
            .select_from(convs.join(groups, sa.true()).outerjoin(agg, on))
            .order_by(convs.c.ord, groups.c.ord))


def conversations_held_select(spans, team: str | None = None):
    """Conversations held per period and mode, with their minutes."""
    periods = periods_table(spans)
    rows = (sa.select(periods.c.period_start, EVENT.c.data["mode"].as_string().label("mode"),
                      sa.cast(EVENT.c.data["minutes"].as_string(), sa.Integer).label("minutes"))
            .select_from(EVENT.join(periods, sa.and_(EVENT.c.occurred_on >= periods.c.period_start,
                                                     EVENT.c.occurred_on <= periods.c.period_end)))
            .where(EVENT.c.trigger == CONVERSATION, EVENT.c.occurred_on >= date_param(spans[0][0]),
                   EVENT.c.occurred_on <= date_param(spans[-1][1]), _status(EVENT) == "held"))
    if team is not None:
        rows = rows.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id).where(EPISODE.c.team == team)
    rows = rows.subquery("held_rows")
    agg = (sa.select(rows.c.period_start, rows.c.mode, sa.func.count().label("held"),
                     sa.func.sum(rows.c.minutes).label("minutes"))
           .group_by(rows.c.period_start, rows.c.mode).subquery("agg"))
    return _grid(agg, periods, "mode", MODES, ("held", "minutes"), ("held", "minutes"))


def welfare_checks_select(spans, team: str | None = None):
    """Welfare checks made per period and outcome, and where each was recorded."""
    periods = periods_table(spans)
    placed = EVENT.c.data["placed"].as_string()
    rows = (sa.select(periods.c.period_start, EVENT.c.data["outcome"].as_string().label("outcome"),
                      _flag(placed == "open_episode").label("open_episode"),
                      _flag(placed == "resolved_contact").label("resolved_contact"),
                      _flag(placed == "follow_up_contact").label("follow_up_contact"))
            .select_from(EVENT.join(periods, sa.and_(EVENT.c.occurred_on >= periods.c.period_start,
                                                     EVENT.c.occurred_on <= periods.c.period_end)))
            .where(EVENT.c.trigger == WELFARE_CHECK, EVENT.c.occurred_on >= date_param(spans[0][0]),
                   EVENT.c.occurred_on <= date_param(spans[-1][1])))
    if team is not None:
        rows = rows.join(EPISODE, EPISODE.c.id == EVENT.c.episode_id).where(EPISODE.c.team == team)
    rows = rows.subquery("check_rows")
    counts = ("checks", "open_episode", "resolved_contact", "follow_up_contact")
    agg = (sa.select(rows.c.period_start, rows.c.outcome, sa.func.count().label("checks"),
                     *(sa.func.sum(rows.c[k]).label(k) for k in counts[1:]))
           .group_by(rows.c.period_start, rows.c.outcome).subquery("agg"))
    return _grid(agg, periods, "outcome", OUTREACH_OUTCOMES, counts, counts)


class Scrutiny:
    """The scrutiny panel's statements on one connection (the same SQL on both databases)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def open_episode(self, person_ref: str) -> EpisodeState | None:
        """The person's latest open episode, if they have one."""
        q = (sa.select(*STATE_COLUMNS).where(EPISODE.c.person_ref == person_ref, EPISODE.c.stage != "closed")
             .order_by(EPISODE.c.contact_at.desc(), EPISODE.c.id.desc()).limit(1))
        row = self.conn.execute(q).first()
        return None if row is None else EpisodeState(*row)

    def check_recorded(self, key: str, on: dt.date) -> bool:
        """Whether a welfare check with this idempotency key was recorded as made on London date ``on``."""
        q = sa.select(EVENT.c.id).where(EVENT.c.trigger == WELFARE_CHECK, EVENT.c.occurred_on == on,
                                        EVENT.c.idempotency_key == key).limit(1)
        return self.conn.execute(q).first() is not None

    def _rows(self, statement) -> list[dict]:
        return [dict(r) for r in self.conn.execute(statement).mappings()]

    def three_conversations(self, spans, split: Split, repeat_days: int, mode: str,
                            team: str | None = None) -> list[dict]:
        """Per period and cohort: the contact measures, the new people needing long-term support and
        days to the first conversation held in conversation 1, in one list of rows in order."""
        flow = self._rows(three_conversations_select(spans, split, repeat_days, mode, team))
        new = self._rows(new_long_term_select(spans, split, team))
        first = self._rows(first_conversation_select(spans, split, mode, team))
        return [{**a, "new_long_term_support": b["new_long_term_support"], "first_held": c["people"],
                 "first_held_median": c["median_days"]}
                for a, b, c in zip(flow, new, first, strict=True)]

    def first_conversation(self, first, last, client_groups, mode: str, team: str | None = None) -> list[dict]:
        return self._rows(first_by_group_select(first, last, client_groups, mode, team))

    def conversations_held(self, spans, team: str | None = None) -> list[dict]:
        return self._rows(conversations_held_select(spans, team))

    def welfare_checks(self, spans, team: str | None = None) -> list[dict]:
        return self._rows(welfare_checks_select(spans, team))
