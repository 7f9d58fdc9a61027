"""The reply shape of each report, built from the fields the reports declare (pathway.services.reports.SHAPES)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, create_model

from pathway.services import audits, scrutiny
from pathway.services.reports import SHAPES, Shape


class ReportRow(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _model(name: str, shape: Shape, doc: str) -> type[BaseModel]:
    groupings = {g: (str | None, Field(default=None, description=f"present when grouped by {g}"))
                 for g in shape.groupings}
    fields = {**{k: (t, ...) for k, t in shape.heads.items()}, **groupings,
              **{k: (t, ...) for k, t in shape.figures.items()}}
    return create_model(name, __base__=ReportRow, __doc__=doc, **fields)


WaitsRow = _model("WaitsRow", SHAPES["waits"], "Who waits at the end of the day, in one group.")
AllocationRow = _model("AllocationRow", SHAPES["allocation"], "First allocations in the period, in one group.")
TrendsRow = _model("TrendsRow", SHAPES["trends"], "One period's waits at its end and first allocations in it.")
OutcomesRow = _model("OutcomesRow", SHAPES["outcomes"], "One month's flow: contacts, conversations, outcomes.")
ForecastRow = _model("ForecastRow", SHAPES["forecast"], "Expected days to allocation in one queue.")
CaseloadRow = _model("CaseloadRow", SHAPES["caseloads"], "One worker's caseload against their cap.")
TeamCaseloadRow = _model("TeamCaseloadRow", SHAPES["caseloads_by_team"],
                         "One team's caseloads (by=team): workers, caseload, capacity, workers over cap.")
SupervisionRow = _model("SupervisionRow", SHAPES["supervision"],
                        "One worker's supervisions in the 12 months to the day, against the standard.")
ManagerSpanRow = _model("ManagerSpanRow", SHAPES["supervision_by_manager"],
                        "One line manager's direct reports against the span of control (by=manager).")

ProgressionRow = _model("ProgressionRow", SHAPES["progression"], "One worker's active episodes in one stage.")
FrontDoorRow = _model("FrontDoorRow", SHAPES["front_door"], "One day's contacts at the front door.")

# The scrutiny panel's reports (pathway.services.scrutiny, pathway.services.audits).
ThreeConversationsRow = _model("ThreeConversationsRow", scrutiny.SHAPES["three_conversations"],
                               "One period and cohort's Three Conversations measures, rates with 95 % intervals.")
FirstConversationRow = _model("FirstConversationRow", scrutiny.SHAPES["first_conversation"],
                              "Days to the first conversation held, in one conversation and client group.")
ConversationsRow = _model("ConversationsRow", scrutiny.SHAPES["conversations"],
                          "Conversations held in one period and mode.")
WelfareChecksRow = _model("WelfareChecksRow", scrutiny.SHAPES["welfare_checks"],
                          "Welfare checks made in one period, with one outcome.")
AuditsRow = _model("AuditsRow", audits.SHAPE, "Case-file audits of one quarter and team (or the council).")

# The reply model of each report route, by the route's name.
REPLIES = {
    "waits": WaitsRow, "allocation": AllocationRow, "trends": TrendsRow, "outcomes": OutcomesRow,
    "forecast": ForecastRow, "caseloads": CaseloadRow | TeamCaseloadRow, "progression": ProgressionRow,
    "front_door": FrontDoorRow, "supervision": SupervisionRow | ManagerSpanRow,
    "three_conversations": ThreeConversationsRow, "first_conversation": FirstConversationRow,
    "conversations": ConversationsRow, "welfare_checks": WelfareChecksRow, "audits": AuditsRow,
}
