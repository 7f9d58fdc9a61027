"""The engine's episodes built from trusted rows are the models pydantic would validate from the same values."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from pathway.services.engine import EpisodeCasework, EpisodeOut, constructed

AT = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.UTC)
ROW = {"id": 7, "person_ref": "P-7", "client_group": "mental_health", "team": "north", "stage": "c1_waiting",
       "worker": None, "priority": "normal", "route": None, "contact_at": AT, "stage_at": AT, "wait_from": AT,
       "allocated_at": None, "outcome": None, "closed_at": None, "days_waiting": 3, "days_to_allocation": None,
       "version": 2}
CASEWORK = {"last_event": "refer", "last_event_at": AT, "days_since_last_event": 3, "next_action": "ring back",
            "next_action_due": dt.date(2026, 5, 25), "next_action_overdue": False, "flagged": True,
            "flag_reason": "for the huddle", "flagged_at": AT, "discussed_at": None, "days_since_discussed": None,
            "days_since_allocation": None}


@given(external_ref=st.none() | st.text(min_size=1, max_size=12), takers=st.none() | st.integers(0, 40),
       give_defaults=st.booleans())
def test_constructed_equals_validated(external_ref, takers, give_defaults):
    values = {**ROW, **({"external_ref": external_ref, "takers": takers} if give_defaults else {})}
    for cls, row in ((EpisodeOut, values), (EpisodeCasework, {**values, **CASEWORK})):
        made, validated = constructed(cls, dict(row)), cls.model_validate(row)
        assert made == validated
        assert made.model_dump() == validated.model_dump()
        assert made.model_dump_json() == validated.model_dump_json()
        assert made.model_fields_set == validated.model_fields_set == set(row)


def test_defaults_are_not_shared_between_episodes():
    a, b = constructed(EpisodeOut, dict(ROW)), constructed(EpisodeOut, dict(ROW))
    assert a.external_ref is None and a.takers is None
    a.takers = 3
    assert b.takers is None
