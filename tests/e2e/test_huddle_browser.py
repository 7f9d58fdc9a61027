"""The huddle board in a real headless Chromium, served by a real uvicorn server, on PostgreSQL.

Checks what a manager and a duty worker would: the chart draws the right numbers, the longest
waiter is listed (crises on top), and "Take next" allocates and the page updates. Leaves a
screenshot at artifacts/huddle.png (and the manager's view on a 2560×1440 screen at
artifacts/huddle-large.png).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from api_support import huddle_council, live_server, make_api

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "huddle.png"

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


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


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_huddle_board_in_chromium(browser, council, clock):
    api = make_api(council)
    ids = huddle_council(council, clock)
    with live_server(council) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/huddle/north?token={api.tokens['amira']}")
        assert page.url == f"{base}/huddle/north"  # the token left the address bar
        page.wait_for_selector("#main[data-rendered]")

        # The chart drew, with the right numbers per client group and stage.
        chart = page.evaluate("""() => {
            const c = window.huddle.charts.waits;
            const ctx = c.canvas.getContext('2d');
            const px = ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
            let inked = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
            return {labels: c.data.labels, sets: c.data.datasets.map(d => [d.stage, d.data]), inked: inked,
                    width: c.canvas.width};
        }""")
        assert chart["width"] > 0 and chart["inked"] > 1000
        drawn = {(group, stage): n for stage, values in chart["sets"]
                 for group, n in zip(chart["labels"], values, strict=True) if n}
        assert drawn == {("mental health", "c1_waiting"): 2, ("learning disability", "c1_waiting"): 1,
                         ("learning disability", "c2_waiting"): 1, ("physical support", "c1_waiting"): 1}
        # The same numbers in the table the page renders for screen readers.
        table = page.eval_on_selector_all("#waits-table tbody tr", """rows => rows.map(r => [r.dataset.group,
            [...r.querySelectorAll('td[data-stage]')].map(td => Number(td.dataset.waiting))])""")
        assert dict((g, v) for g, v in table if any(v)) == {
            "mental_health": [2, 0, 0], "learning_disability": [1, 1, 0], "physical_support": [1, 0, 0]}
        assert page.inner_text("#waiting-total") == "5" and page.inner_text("#crises-total") == "1"

        # The longest waiters: the crisis on top, then the breach, both flagged in words.
        rows = page.eval_on_selector_all("#longest tbody tr", "rows => rows.map(r => r.innerText)")
        assert rows[0].startswith("LAS-104") and "CRISIS" in rows[0]
        assert rows[1].startswith("LAS-101\t19") and "OVER TARGET" in rows[1]
        assert not any("LAS-201" in r for r in rows)
        assert "amira" in page.inner_text("#caseloads")
        assert page.eval_on_selector_all("#trend-table tbody tr", "r => r.length") == 8
        assert "days" in page.inner_text("#forecast")

        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # "Take next" from the keyboard: the crisis is allocated to amira and the page updates.
        page.focus("#take-next")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('take-result').textContent.startsWith('You took')")
        assert "LAS-104" in page.inner_text("#take-result")
        page.wait_for_function("() => document.getElementById('waiting-total').textContent === '4'")
        assert page.inner_text("#crises-total") == "0"
        assert not page.eval_on_selector_all("#longest tbody tr", "rs => rs.some(r => r.innerText.includes('LAS-104'))")
        assert page.inner_text("#caseloads tr[data-worker='amira'] td:nth-child(2)") == "1"
        ep = council.get(ids["LAS-104"])
        assert (ep.stage, ep.worker) == ("c2_active", "amira")

        # The minute's refresh picks up a contact recorded elsewhere.
        new = council.record_contact("LAS-106", "sensory_support", "north")
        council.fire(new.id, "refer")
        page.evaluate("window.huddle.refresh()")
        page.wait_for_function("() => document.getElementById('waiting-total').textContent === '5'")
        assert "LAS-106" in page.inner_text("#longest")
        assert page.evaluate("""() => {
            const c = window.huddle.charts.waits, i = c.data.labels.indexOf('sensory support');
            return c.data.datasets.find(d => d.stage === 'c1_waiting').data[i];
        }""") == 1
        assert errors == []

        # A manager sees the board without the duty worker's button.
        manager = browser.new_page()
        manager.goto(f"{base}/huddle/north?token={api.tokens['manager']}")
        manager.wait_for_selector("#main[data-rendered]")
        assert manager.query_selector("#take-next") is None
        assert manager.inner_text("#waiting-total") == "5"
        # On the meeting-room screen the type grows with the window.
        laptop = manager.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        manager.set_viewport_size({"width": 2560, "height": 1440})
        large = manager.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert large > laptop
        manager.wait_for_function(f"() => Chart.defaults.font.size > {laptop * 0.85 + 1}")  # charts redrawn to match
        manager.screenshot(path=str(SCREENSHOT.with_name("huddle-large.png")))
