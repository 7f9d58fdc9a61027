"""The huddle board's casework panels: "for discussion" and "standing still" in the board's data, a manager
recording a discussion from the board, and the same in a real headless Chromium (screenshot at
artifacts/huddle-casework.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import huddle_council, live_server, make_api
from test_huddle_browser import browser  # noqa: F401  (the fixture)

SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "huddle-casework.png"


def casework_council(council, clock) -> dict:
    """The huddle council, and on 20 May: LAS-106 allocated to amira on 1 May and untouched since (standing
    still), LAS-107 allocated to ben with a next action overdue since 18 May, and two flagged ones."""
    ids = huddle_council(council, clock)
    clock.set("2026-05-01T09:00:00+00:00")
    for ref, worker in (("LAS-106", "amira"), ("LAS-107", "ben"), ("LAS-108", "ben")):
        ep = council.record_contact(ref, "mental_health", "north")
        council.fire(ep.id, "refer")
        ids[ref] = council.fire(ep.id, "allocate", worker=worker).id
    clock.set("2026-05-12T09:00:00+00:00")
    council.fire(ids["LAS-107"], "next_action", text="chase the OT report", due="2026-05-18")
    council.fire(ids["LAS-108"], "flag", reason="family asking for a meeting")
    clock.set("2026-05-19T09:00:00+00:00")
    council.fire(ids["LAS-103"], "flag", reason="carer at breaking point")
    clock.set("2026-05-20T12:00:00+00:00")
    return ids


def test_the_board_data_has_both_panels_and_a_manager_records_a_discussion(council, clock):
    api = make_api(council)
    ids = casework_council(council, clock)
    data = api.get("/huddle/north/data", "manager").json()
    assert [(p["person_ref"], p["flag_reason"]) for p in data["for_discussion"]] == [
        ("LAS-108", "family asking for a meeting"), ("LAS-103", "carer at breaking point")]
    # LAS-106: nothing since 1 May (19 days); LAS-108: flagged on 12 May (8 days) is not still;
    # LAS-107: touched on 12 May, but its next action was due on 18 May.
    assert [(p["person_ref"], p["days_since_last_event"], p["next_action_overdue"])
            for p in data["standing_still"]] == [("LAS-106", 19, False), ("LAS-107", 8, True)]
    assert data["can_record_discussion"] is True
    assert api.get("/huddle/north/data", "amira").json()["can_record_discussion"] is False

    # The manager records it from the board (signed in: the board's session cookie, and its header).
    client = api.client
    signed_in = client.post("/huddle/north/session", data={"token": api.tokens["manager"]}, follow_redirects=False)
    assert signed_in.status_code == 303 and client.cookies.get("pathway_board")
    body = {"trigger": "discussed", "where": "huddle", "decision": "OT visit this week",
            "next_action": "book OT", "due": "2026-05-22"}
    r = client.post(f"/episodes/{ids['LAS-108']}/events", json=body, headers={"X-Pathway-Board": "1"})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    (event,) = [e for e in council.history(ids["LAS-108"]) if e["trigger"] == "discussed"]
    assert (event["actor"], event["data"]["decision"]) == (api.actors["manager"], "OT visit this week")
    assert [p["person_ref"] for p in api.get("/huddle/north/data", "manager").json()["for_discussion"]] == [
        "LAS-103"]


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_casework_panels_in_chromium(browser, council, clock):  # noqa: F811
    api = make_api(council)
    casework_council(council, clock)
    with live_server(council) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/huddle/north?token={api.tokens['manager']}")
        page.wait_for_selector("#main[data-casework=ready]")
        rows = page.locator("#for-discussion tbody tr")
        assert rows.count() == 2
        assert "family asking for a meeting" in rows.nth(0).inner_text()
        assert page.locator("#standing-still tbody tr").count() == 2
        assert "OVERDUE" in page.locator("#standing-still tbody tr").nth(1).inner_text()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.locator("#h-discussion").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        rows.nth(0).get_by_role("button", name="Discussed…").click()
        page.fill("#discussed-form input[name=decision]", "OT visit this week")
        page.fill("#discussed-form input[name=next_action]", "book OT")
        page.fill("#discussed-form input[name=due]", "2026-05-22")
        page.get_by_role("button", name="Record discussion").click()
        page.wait_for_function("() => document.querySelectorAll('#for-discussion tbody tr').length === 1")
        assert "carer at breaking point" in page.locator("#for-discussion tbody tr").inner_text()
        assert errors == []
