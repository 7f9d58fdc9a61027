"""National returns out: the Adult Social Care Client Level Data (CLD) return's request, assessment and review
events for a period, derived from the event log.

The return counts *completed* events: a request when the contact's outcome is settled, an
assessment or review when it ends. In the pathway each is a spell of the episode in one part of it
(the contact; conversation 1, 2 or 3), so a CLD event is one "leaving" event of the log (the move
out of that part) paired with the move into it. One SQL query (pathway.store.cld) picks the leaving events in the
period and their starts; a mapping table (defaults here, overridable by ``config/cld-mapping.toml``)
turns our parts, outcomes and client groups into the return's event types, outcomes and Primary
Support Reasons.

Defaults, following the return's guidance for councils on the Three Conversations model:
- the contact is a **Request**; it completes when the contact is resolved, referred on, escalated
  to a crisis or closed;
- conversation 1 (the initial conversation, recorded separately from the contact) is an
  **Assessment**; a council that records it as the first contact sets ``c1 = "Request"`` and the
  contact and conversation 1 become one request, from the contact to the end of conversation 1;
- conversation 2 (crisis) is short-term support, a *service* in the return, and not reported here;
- conversation 3 is an **Assessment** that leads to long-term support (support planning).
Reviews are not produced by default (the pathway has no review stage); ``c3 = "Review"`` reports
conversation 3 as reviews instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

from pathway.domain import days
from pathway.errors import ValidationError
from pathway.services import csv_safe
from pathway.services.history import read_toml
from pathway.store.unit import Unit

PARTS = ("contact", "c1", "c2", "c3")
EVENT_TYPES = ("Request", "Assessment", "Review")

COLUMNS = ("LA_Code", "Reporting_Period_Start_Date", "Reporting_Period_End_Date", "LA_Person_Unique_Identifier",
           "Client_Type", "Primary_Support_Reason", "Event_Type", "Event_Reference", "Event_Description",
           "Request_Route_of_Access", "Event_Start_Date", "Event_End_Date", "Event_Outcome")

DEFAULTS: dict = {
    "return": {"la_code": "", "date_format": "%Y-%m-%d"},
    # Which part of the pathway is which CLD event type ("" = not reported).
    "event_types": {"contact": "Request", "c1": "Assessment", "c2": "", "c3": "Assessment"},
    "event_descriptions": {
        "contact": "Contact (front door)",
        "c1": "Initial conversation (Three Conversations: conversation 1, listen and connect)",
        "c2": "Crisis support (Three Conversations: conversation 2)",
        "c3": "Long-term support assessment (Three Conversations: conversation 3, build a good life)",
    },
    # A spell that ends in a closure: its outcome.
    "event_outcomes": {
        "information_and_advice": "NFA - Information & Advice / Signposting only",
        "signposted": "NFA - Information & Advice / Signposting only",
        "welfare_check_done": "NFA - Other",
        "met_at_c1": "NFA - Information & Advice / Signposting only",
        "crisis_resolved": "NFA - Other",
        "long_term_support": "Progress to Support Planning / Services",
        "declined": "NFA - Support declined",
        "moved_away": "NFA - Moved to another LA",
        "died": "NFA - Deceased",
        "no_further_action": "NFA - Other",
        "*": "NFA - Other",
    },
    # A spell that ends by moving on: its outcome, by the part it moves to.
    "next_step_outcomes": {
        "c1": "Progress to Assessment",
        "c2": "Progress to Reablement/ST-Max",
        "c3": "Progress to Support Planning / Services",
    },
    "primary_support_reasons": {
        "physical_support": "Physical Support: Personal care support",
        "sensory_support": "Sensory Support: Support for dual impairment",
        "memory_and_cognition": "Support with Memory & Cognition",
        "learning_disability": "Learning Disability Support",
        "mental_health": "Mental Health Support",
        "social_support": "Social Support: Support for Social Isolation/Other",
        "unknown": "No Support Reason",
        "dementia": "Support with Memory & Cognition",
        "autism": "Social Support: Support for Social Isolation/Other",
        "carers": "",
        "*": "No Support Reason",
    },
    "client_types": {"carers": "Carer", "*": "Service User"},
    "routes_of_access": {"hospital": "Discharge from Hospital", "*": "Community / Other route"},
}


@dataclasses.dataclass
class CldMapping:
    """The mapping table from the pathway's words to the return's. ``*`` is the fallback of a table."""

    tables: dict

    @classmethod
    def default(cls) -> CldMapping:
        return cls({k: dict(v) for k, v in DEFAULTS.items()})

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> CldMapping:
        """The defaults, overridden by ``path`` (or ``config/cld-mapping.toml`` when it exists)."""
        mapping = cls.default()
        if path is None:
            path = Path("config/cld-mapping.toml")
            if not path.exists():
                return mapping
        data = read_toml(path, "CLD mapping file")
        unknown = sorted(set(data) - set(DEFAULTS))
        if unknown:
            raise ValidationError(f"CLD mapping {str(path)!r}: unknown tables {unknown}; tables are: "
                                  f"{', '.join(DEFAULTS)}", field="mapping")
        for table, values in data.items():
            mapping.tables[table].update({str(k): str(v) for k, v in values.items()})
        mapping.check()
        return mapping

    def check(self) -> None:
        for part, kind in self.tables["event_types"].items():
            if part not in PARTS or (kind and kind not in EVENT_TYPES):
                raise ValidationError(f"CLD mapping [event_types]: {part} = {kind!r}; parts are {', '.join(PARTS)} "
                                      f"and types are {', '.join(EVENT_TYPES)} or \"\" (not reported)",
                                      field="mapping")

    def get(self, table: str, key: str | None) -> str:
        values = self.tables[table]
        return values.get(key or "", values.get("*", ""))


def cld_rows(uow: Unit, start: dt.date, end: dt.date, mapping: CldMapping | None = None) -> list[dict]:
    """The return's rows for the period: completed requests, assessments and reviews, oldest first."""
    if end < start:
        raise ValidationError(f"the period ends ({end}) before it starts ({start})", field="to")
    mapping = mapping or CldMapping.default()
    types = mapping.tables["event_types"]
    parts = [p for p in PARTS if types.get(p)]
    c1_is_request = types.get("c1") == "Request"
    fmt = mapping.tables["return"].get("date_format") or "%Y-%m-%d"
    la_code = mapping.tables["return"].get("la_code", "")
    out = []
    for r in uow.cld.spells(start, end, parts):
        part, start_on = r["part"], r["start_on"]
        kind = types[part]
        if c1_is_request and part == "contact" and r["next_part"] == "c1":
            continue  # the request goes on through conversation 1 and completes when it ends
        if c1_is_request and part == "c1":
            if r["start_trigger"] == "refer":
                start_on = days.london_date(r["contact_at"])
            else:
                kind = "Assessment"  # a later spell of conversation 1 (after a crisis) is not a new request
        if r["next_part"] == "closed":
            outcome = mapping.get("event_outcomes", r["outcome"])
        else:
            outcome = mapping.get("next_step_outcomes", r["next_part"])
        group = r["client_group"]
        out.append({
            "LA_Code": la_code,
            "Reporting_Period_Start_Date": start.strftime(fmt),
            "Reporting_Period_End_Date": end.strftime(fmt),
            "LA_Person_Unique_Identifier": r["person_ref"],
            "Client_Type": mapping.get("client_types", group),
            "Primary_Support_Reason": mapping.get("primary_support_reasons", group),
            "Event_Type": kind,
            "Event_Reference": f"{r['episode_id']}-{r['seq']}",
            "Event_Description": mapping.get("event_descriptions", part),
            "Request_Route_of_Access": mapping.get("routes_of_access", r["route"]) if kind == "Request" else "",
            "Event_Start_Date": start_on.strftime(fmt),
            "Event_End_Date": r["end_on"].strftime(fmt),
            "Event_Outcome": outcome,
        })
    return out


def to_csv(rows: list[dict]) -> str:
    return csv_safe.write(rows, COLUMNS)
