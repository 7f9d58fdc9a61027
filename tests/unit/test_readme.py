"""The README's pathway diagram is the one transitions draws from the table today."""

from pathlib import Path

from pathway.domain.stages import mermaid

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_diagram_is_current():
    text = README.read_text()
    start = text.index("<!-- pathway-diagram:start -->")
    end = text.index("<!-- pathway-diagram:end -->")
    assert "```mermaid\n" + mermaid() + "```" in text[start:end], "run `pathway diagram` and paste it in the README"


def test_readme_opens_with_the_two_commands():
    head = README.read_text().split("\n\n")[1]
    assert "pathway demo" in head and "pytest" in head


def test_readme_is_a_short_front_door():
    assert len(README.read_bytes()) < 12 * 1024, "the README is a front door: move reference into docs/"
