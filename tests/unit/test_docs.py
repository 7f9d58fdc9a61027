"""The docs site holds together: every page is in the nav, the README's links lead somewhere, and the
home page's pathway diagram is the one transitions draws. (`mkdocs build --strict` in CI checks the
links between pages and their anchors.)"""

import re
from pathlib import Path

from pathway.domain.stages import mermaid

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# A Markdown link or image: [text](target) — the target up to a space or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def nav_pages() -> list[str]:
    """The pages the nav of mkdocs.yml names (paths under docs/), read without a YAML library."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return re.findall(r"[\s:-]([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_every_page_is_in_the_nav():
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    listed = set(nav_pages())
    assert pages - listed == set(), "add these pages to the nav in mkdocs.yml"
    assert listed - pages == set(), "the nav names pages that do not exist"


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor on the README itself
        path = target.split("#", 1)[0]
        if not (ROOT / path).exists():
            broken.append(target)
    assert not broken, f"README links to files that do not exist: {broken}"


def test_readme_links_into_the_docs():
    links = LINK.findall((ROOT / "README.md").read_text())
    assert any(t.startswith("docs/") for t in links), "the README should point into docs/"


def test_docs_diagram_is_current():
    text = (DOCS / "index.md").read_text()
    start = text.index("<!-- pathway-diagram:start -->")
    end = text.index("<!-- pathway-diagram:end -->")
    assert "```mermaid\n" + mermaid() + "```" in text[start:end], "run `pathway diagram` and paste it in docs/index.md"
