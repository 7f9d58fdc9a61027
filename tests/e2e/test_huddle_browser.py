"""The huddle board in a real headless Chromium (Debian's), served by a real uvicorn server, on PostgreSQL,
for a busy team, at the sizes it is used at: the TV in the huddle room (1920×1080), a laptop (1280×800)
and a phone (390×844). axe-core (tests/e2e/vendor, packaged) checks every page and role.

Screenshots are left in artifacts/ (huddle-tv-1920x1080.png, huddle-laptop-1280x800.png,
huddle-phone-390x844.png, huddle-stale.png).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from api_support import live_server, make_api
from board_support import busy_settings, busy_team

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
TV, LAPTOP, PHONE = (1920, 1080), (1280, 800), (390, 844)
SIZES = {"tv": TV, "laptop": LAPTOP, "phone": PHONE}

pytestmark = [pytest.mark.browser, pytest.mark.postgres,
              pytest.mark.parametrize("db_url", ["postgres"], indirect=True)]


@pytest.fixture
def settings():
    return busy_settings()


@pytest.fixture
def browser():
    why = None
    if not Path(CHROMIUM).exists():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            why = "the playwright package is not installed (pip install -e '.[test]')"
    if why:
        if os.environ.get("PATHWAY_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PATHWAY_REQUIRE_SERVICES=1 and {why}", pytrace=False)
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def team(engine, clock):
    """The busy team, its tokens and its episode ids."""
    ids = busy_team(engine, clock)
    api = make_api(engine)
    api.ids = ids
    return api


class Board:
    """One browser context signed in to the board, collecting console errors and page errors."""

    def __init__(self, browser, base: str, token: str, size=LAPTOP, *, axe: bool = False):
        # axe is injected as a script, which the board's policy (rightly) refuses: its pages bypass it
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=axe)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = base
        self.page.goto(f"{base}/huddle/north?token={token}")
        if self.page.url == f"{base}/huddle/north":
            self.rendered()

    def rendered(self, at_least: int = 1) -> None:
        self.page.wait_for_function(f"() => Number(document.getElementById('main')?.dataset.rendered) >= {at_least}")

    def axe(self) -> list[dict]:
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in result["violations"]]

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))

    def close(self) -> None:
        self.context.close()


def overflowing(page) -> dict:
    """The page's size against the window's, and every panel whose content is cut or sticks out."""
    return page.evaluate("""() => ({
        height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
        panels: [...document.querySelectorAll('.panel, .tiles')].filter(p =>
            p.scrollHeight > p.clientHeight + 1 || p.scrollWidth > p.clientWidth + 1 ||
            p.getBoundingClientRect().bottom > window.innerHeight + 0.5 && window.innerWidth >= 1400
        ).map(p => p.className)})""")


def test_the_tv_shows_the_whole_board_with_no_scrolling(browser, team):
    """Finding 1: at 1920×1080 every panel is on the screen, nothing is cut, the list says how many more wait."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], TV)
        page = board.page
        assert overflowing(page) == {"height": 1080, "width": 1920, "panels": []}
        # the queue and the waits, and the first three of the panels that take turns in the third column
        shown_panels = page.eval_on_selector_all(".panel:not([hidden])", """ps => ps.map(p => {
            const b = p.getBoundingClientRect(); return [p.classList[1], b.top, b.bottom, b.right]; })""")
        assert [p[0] for p in shown_panels] == ["queue", "waits", "discussion", "still", "gaps"]
        for panel, top, bottom, right in shown_panels:
            assert top >= 0 and bottom <= 1080 and right <= 1920, panel
        shown = page.eval_on_selector_all("#queue tbody tr", "rs => rs.filter(r => !r.hidden).length")
        assert shown >= 20
        assert page.inner_text("#queue-more") == f"and {38 - shown} more waiting"
        # the trend's table is for screen readers on the TV, the chart shows it
        assert page.locator("#trend-table").count() == 1
        board.screenshot("huddle-tv-1920x1080.png")
        assert board.errors == []
        board.close()


def test_every_bar_is_labelled_and_empty_groups_are_folded(browser, team):
    """Finding 2: one labelled bar per client group with someone waiting, at every size; the rest on one line."""
    with live_server(team.engine) as base:
        for name, size in SIZES.items():
            board = Board(browser, base, team.tokens["manager"], size)
            chart = board.page.evaluate("""() => {
                const c = window.huddle.charts.waits;
                return {labels: c.data.labels, ticks: c.scales.y.ticks.map(t => c.scales.y.getLabelForValue(t.value)),
                        legend: c.legend.legendItems.map(i => i.text),
                        sets: c.data.datasets.map(d => d.data)};
            }""")
            assert chart["ticks"] == chart["labels"] and len(chart["labels"]) == 9, name
            assert "unknown" not in chart["labels"]
            assert board.page.inner_text("#waits-none") == "Nobody waiting: unknown."
            # the same words in the table's headers as in the chart's legend; the same numbers
            headers = board.page.eval_on_selector_all("#waits-table thead th", "hs => hs.map(h => h.innerText)")
            assert [re.sub(r"\s+", " ", h) for h in headers[1:-1]] == chart["legend"]
            table = board.page.eval_on_selector_all("#waits-table tbody tr", """rows => rows.map(r =>
                [...r.querySelectorAll('td[data-stage]')].map(td => Number(td.dataset.waiting)))""")
            assert [list(col) for col in zip(*table, strict=True)] == chart["sets"]
            board.close()


def test_a_board_that_cannot_refresh_says_so(browser, team):
    """Finding 3: with the server stopped, a banner with the last good refresh's time, figures greyed."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], TV)
    page = board.page  # the server is stopped now
    assert page.locator("#stale").is_hidden()
    page.evaluate("() => window.huddle.refresh()")
    page.wait_for_selector("#stale", state="visible")
    banner = page.inner_text("#stale")
    assert banner.startswith("NOT UP TO DATE") and "12:00 on 2026-05-20" in banner
    assert page.evaluate("() => document.body.classList.contains('is-stale')")
    assert page.evaluate("() => getComputedStyle(document.querySelector('.panel.queue')).backgroundColor") \
        == "rgb(240, 240, 240)"
    assert page.evaluate("() => getComputedStyle(document.querySelector('#waits-chart')).filter") != "none"
    assert overflowing(page) == {"height": 1080, "width": 1920, "panels": []}  # still one screen, nothing cut
    board.screenshot("huddle-stale.png")
    board.close()


def test_a_failing_data_endpoint_shows_the_banner_until_a_refresh_succeeds(browser, team, clock):
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], LAPTOP)
        page = board.page
        page.route("**/huddle/north/data", lambda route: route.fulfill(status=500, body="{}"))
        page.evaluate("() => window.huddle.refresh()")
        page.wait_for_selector("#stale", state="visible")
        assert "HTTP 500" in page.inner_text("#stale") and "12:00" in page.inner_text("#stale")
        page.unroute("**/huddle/north/data")
        clock.advance(minutes=5)
        page.evaluate("() => window.huddle.refresh()")
        page.wait_for_selector("#stale", state="hidden")
        assert not page.evaluate("() => document.body.classList.contains('is-stale')")
        assert page.inner_text("#updated") == "12:05"
        board.close()


def test_the_marked_next_person_is_the_one_take_next_gives(browser, team):
    """Finding 4: the queue in claim order with priority; the marked row is the one Take next takes."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["ben"], LAPTOP)
        page = board.page
        rows = page.eval_on_selector_all("#queue tbody tr", """rs => rs.map(r => ({
            ref: r.cells[1].innerText, priority: r.cells[3].innerText, next: r.classList.contains('next')}))""")
        assert [r["ref"] for r in rows[:3]] == ["P-000701", "P-000705", "P-000703"]
        assert rows[2]["priority"] == "high"
        assert [r["ref"] for r in rows if r["next"]] == ["P-000701"]
        assert "NEXT for you" in page.inner_text("#queue tbody tr.next")
        before = page.locator("#take-next").bounding_box()
        page.focus("#take-next")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('take-result').textContent.startsWith('You took')")
        assert "P-000701" in page.inner_text("#take-result")
        assert page.locator("#take-next").bounding_box() == before  # finding 11: the button stays put
        ep = team.engine.get(team.ids["P-000701"])
        assert (ep.stage, ep.worker) == ("c2_active", "ben")
        board.rendered(2)
        page.wait_for_function("() => document.querySelector('#queue tbody tr.next td:nth-child(2)')"
                               "?.innerText === 'P-000705'")
        # the newly marked one is, again, what Take next gives
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('take-result').textContent.includes('P-000705')")
        assert team.engine.get(team.ids["P-000705"]).worker == "ben"
        assert board.errors == []
        board.close()


def test_nothing_sticks_out_on_a_phone_or_a_laptop(browser, team):
    """Finding 5: no horizontal overflow at 390 px (tables scroll inside their panel); references never break."""
    with live_server(team.engine) as base:
        for name, size in (("phone", PHONE), ("laptop", LAPTOP)):
            board = Board(browser, base, team.tokens["amira"], size)
            result = overflowing(board.page)
            assert (result["width"], result["panels"]) == (size[0], []), name
            lines = board.page.eval_on_selector_all("#queue td.ref", """cells => cells.map(c => {
                const range = document.createRange(); range.selectNodeContents(c);
                return range.getClientRects().length; })""")
            assert set(lines) == {1}, name  # one line: "P-000723" never breaks
            board.screenshot(f"huddle-{name}-{size[0]}x{size[1]}.png")
            board.page.screenshot(path=str(ARTIFACTS / f"huddle-{name}-full.png"), full_page=True)
            board.close()


def test_signing_in_never_leaves_the_token_in_the_address(browser, team):
    """Finding 7: on success and on failure the token leaves the address bar and the history."""
    with live_server(team.engine) as base:
        for who, lands in (("manager", "/huddle/north"), ("manager_south", "/huddle/north?signin=forbidden"),
                           ("cara", "/huddle/north?signin=forbidden")):
            board = Board(browser, base, team.tokens[who], LAPTOP)
            assert board.page.url == base + lands and "token" not in board.page.url
            board.page.go_back()  # the step before is the blank tab: the address with the token is no entry
            assert board.page.url == "about:blank"
            board.close()
        board = Board(browser, base, "pw_not_a_token", LAPTOP)
        assert board.page.url == f"{base}/huddle/north?signin=unauthorized"
        assert "unknown or revoked" in board.page.inner_text("[role=alert]")
        # the form posts the token: it never enters an address
        board.page.fill("#token", team.tokens["amira"])
        board.page.click("button[type=submit]")
        board.rendered()
        assert board.page.url == f"{base}/huddle/north"
        board.close()


def test_signing_out_and_an_expired_session_explain_themselves(browser, team, clock):
    """Finding 9: a sign-out control; an expired session says so instead of a bare form."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], TV)
        board.page.click("text=Sign out")
        board.page.wait_for_url(f"{base}/huddle/north?signin=signed_out")
        assert "You signed out" in board.page.inner_text("main")
        board.close()
        board = Board(browser, base, team.tokens["manager"], TV)
        clock.advance(hours=12, minutes=5)
        board.page.evaluate("() => window.huddle.refresh()")  # the minute's refresh finds the session over
        board.page.wait_for_selector("form[action='/huddle/north/session']")
        assert "session ended at" in board.page.inner_text("[role=alert]")
        assert "12 hours" in board.page.inner_text("[role=alert]")
        board.close()


def test_axe_finds_nothing_on_any_page_for_any_role(browser, team):
    """Finding 8 (and the rest of WCAG 2.2 AA that axe checks): zero violations everywhere."""
    with live_server(team.engine) as base:
        pages = []
        for who in ("manager", "amira"):
            for name, size in SIZES.items():
                pages.append((f"board {who} {name}", Board(browser, base, team.tokens[who], size, axe=True)))
        stale = Board(browser, base, team.tokens["manager"], LAPTOP, axe=True)
        stale.page.route("**/huddle/north/data", lambda route: route.abort())
        stale.page.evaluate("() => window.huddle.refresh()")
        stale.page.wait_for_selector("#stale", state="visible")
        pages.append(("stale board", stale))
        for name, token in (("sign-in", None), ("refused", team.tokens["cara"]), ("unknown", "pw_x")):
            board = Board(browser, base, token or "", PHONE, axe=True)
            if token is None:
                board.page.goto(f"{base}/huddle/north")
            pages.append((name, board))
        signed_out = Board(browser, base, team.tokens["manager"], LAPTOP, axe=True)
        signed_out.page.click("text=Sign out")
        signed_out.page.wait_for_url("**signin=signed_out")
        pages.append(("signed out", signed_out))
        found = {name: board.axe() for name, board in pages}
        assert found == {name: [] for name, _ in pages}
        for _, board in pages:
            board.close()


def contrast(a: str, b: str) -> float:
    def lum(rgb: str) -> float:
        values = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
        r, g, b = (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_focus_rings_and_badges_meet_contrast(browser, team):
    """Finding 8: the focus ring against the page is at least 3:1 (WCAG 2.2 focus appearance), the CRISIS
    badge's text at least 4.5:1."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["amira"], LAPTOP)
        page = board.page
        for _ in range(4):  # the skip link, Sign out, then Take next: from the keyboard alone
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "take-next":
                break
        assert page.evaluate("() => document.activeElement.id") == "take-next"
        ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return {tag: document.activeElement.tagName, colour: s.outlineColor, width: parseFloat(s.outlineWidth),
                    style: s.outlineStyle, page: getComputedStyle(document.documentElement).backgroundColor}; }""")
        assert ring["style"] == "solid" and ring["width"] >= 2
        assert contrast(ring["colour"], ring["page"]) >= 3
        badge = page.evaluate("""() => { const s = getComputedStyle(document.querySelector('.flag.crisis'));
            return [s.color, s.backgroundColor]; }""")
        assert contrast(*badge) >= 4.5
        board.close()


def test_figures_say_what_they_are_measured_against(browser, team):
    """Finding 10: targets printed beside every "over target", units, "so far", axis titles, names."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], LAPTOP)
        page = board.page
        over = page.eval_on_selector_all(".flag.breach", "fs => fs.map(f => f.innerText)")
        assert over and all(re.fullmatch(r"OVER \d+-day target|OVER CAP", f) for f in over)
        forecast = page.inner_text("#forecast")
        assert "59.5 days" in forecast and "OVER 11-day target" in forecast
        assert "mental health 14" in page.inner_text("#targets")
        assert "learning disability 21" in page.inner_text("#targets")
        assert page.eval_on_selector_all("#trend-table tbody tr", "rs => rs.at(-1).cells[0].innerText") \
            == "2026-05-20 (so far)"
        titles = page.evaluate("""() => { const c = window.huddle.charts.trend.options.scales;
            return [c.x.title.text, c.y.title.text]; }""")
        assert all(titles)
        assert "Amira Khan (amira)" in page.inner_text("#caseloads")
        waits = page.eval_on_selector_all("#queue td:nth-child(3)", "cs => cs.map(c => c.innerText)")
        assert all(re.fullmatch(r"\d+ days?|today", w) for w in waits) and "today" in waits
        board.close()


def test_static_files_are_compressed_hashed_and_cached(browser, team):
    """Finding 11: gzip, content-hashed addresses cached for a year, a favicon (no console error)."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], LAPTOP)
        sources = board.page.eval_on_selector_all("script[src], link[href]", "es => es.map(e => e.src || e.href)")
        assert len(sources) == 5 and all(re.search(r"/static/.+\?v=[0-9a-f]{12}$", s) for s in sources)
        for url in sources:
            r = httpx.get(url, headers={"Accept-Encoding": "gzip"})
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            if len(r.content) > 1000:
                assert r.headers["content-encoding"] == "gzip", url
        chart = next(s for s in sources if "chart" in s)
        with httpx.stream("GET", chart, headers={"Accept-Encoding": "gzip"}) as r:
            wire = sum(len(part) for part in r.iter_raw())
        assert wire < 80_000 < 200_000 < len(httpx.get(chart).content)
        assert board.errors == []  # no favicon 404, no policy violation
        board.close()


def test_more_panels_take_turns_on_the_tv_with_a_pause(browser, team):
    """The panels that share the third column on the TV (for discussion, standing still, nobody on duty can
    take, caseloads, the trend, the forecast) fit the same screen: three at a time, taking turns, with an
    indicator, Pause and Next; every list in them shows the rows that fit and says how many more."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], TV)
        page = board.page
        assert page.inner_text("#rotator-state") == "Panels 1 of 2, turning every 20 s"
        assert overflowing(page) == {"height": 1080, "width": 1920, "panels": []}
        seen = []
        for _ in range(2):
            visible = page.eval_on_selector_all(".panel:not([data-pinned])", """ps => ps.filter(p => !p.hidden)
                .map(p => p.querySelector('h2').innerText)""")
            assert len(visible) == 3 and overflowing(page)["panels"] == []
            seen += visible
            page.click("#rotator-next")
        assert seen == ["For discussion (oldest flag first)",
                        "Standing still (no event for a while, or a next action overdue)",
                        "Nobody on duty can take", "Caseloads against cap",
                        "Queue at the end of each week", "Forecast: wait for someone joining today"]
        assert page.inner_text("#rotator-state").startswith("Panels 1 of 2")  # round again
        # the casework's lists are cut to what fits, saying how many more
        still = page.eval_on_selector_all("#standing-still tbody tr", "rs => rs.filter(r => !r.hidden).length")
        total = len(team.get("/huddle/north/data", "manager").json()["standing_still"])
        assert total > still >= 1
        assert page.inner_text("#still-more") == f"and {total - still} more standing still"
        assert "family asking for a meeting" in page.inner_text("#for-discussion")
        gaps = page.eval_on_selector_all("#nobody-can-take tbody tr", "rs => rs.map(r => r.innerText)")
        assert len(gaps) == 1 and "sensory support" in gaps[0] and "sensory" in gaps[0]
        page.click("#rotator-pause")
        assert page.get_attribute("#rotator-pause", "aria-pressed") == "true"
        assert "(paused)" in page.inner_text("#rotator-state")
        assert page.evaluate("() => window.huddle.rotation.paused")
        assert board.errors == []
        board.close()


def test_the_front_door_is_on_the_clock_in_the_waits(browser, team):
    """The front door (contacts not yet referred) has its column in the waits and its target; the queue
    is the waiting stages only, as Take next sees them."""
    with live_server(team.engine) as base:
        board = Board(browser, base, team.tokens["manager"], LAPTOP)
        page = board.page
        headers = page.eval_on_selector_all("#waits-table thead th", "hs => hs.map(h => h.innerText)")
        assert headers[1] == "Front door"
        front = page.eval_on_selector_all("#waits-table td[data-stage=contact]",
                                          "cs => cs.map(c => Number(c.dataset.waiting))")
        assert sum(front) == 2
        assert "Front door 2 working" in page.inner_text("#targets")  # the front door's target is in working days
        refs = page.eval_on_selector_all("#queue td.ref", "cs => cs.map(c => c.innerText)")
        assert "P-000760" not in refs and "P-000761" not in refs
        board.close()
