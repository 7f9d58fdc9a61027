"""The table of event kinds that keep the stage holds together, and the reference page shows it as it is."""

from pathlib import Path

from pathway.domain.commands import Move, fields_of
from pathway.domain.events import FIELD_KINDS, KINDS, RULE_TEXT, RULES, markdown_table
from pathway.domain.stages import STAGES, TRIGGERS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_field_a_kind_takes_is_a_move_field_and_every_rule_is_named():
    moves = {f.name for f in fields_of(Move)}
    assert set(FIELD_KINDS) <= moves
    assert {r for k in KINDS.values() for r in k.rules} <= set(RULES) == set(RULE_TEXT)
    assert not set(KINDS) & set(TRIGGERS)
    for kind in KINDS.values():
        assert set(kind.stages()) <= set(STAGES)
        assert set(kind.sets) <= set(kind.required)  # a change is always said


def test_the_reference_page_shows_the_table_as_it_is():
    text = (DOCS / "casework.md").read_text()
    start = text.index("<!-- event-kinds:start -->") + len("<!-- event-kinds:start -->\n")
    end = text.index("<!-- event-kinds:end -->")
    assert text[start:end] == markdown_table(), "paste pathway.domain.events.markdown_table() into docs/casework.md"
