"""A real headless Chromium (Debian's, no browser download) against the app served by uvicorn:
labelling with the mouse (tests/web/conftest.py starts both)."""

from __future__ import annotations

import re

import pytest

from app.store.schema import DEFAULT_TOPIC_ID, Label
from tests.web.conftest import SCREENSHOTS

playwright_api = pytest.importorskip("playwright.sync_api")


def test_label_a_paper_and_move_to_another_day(served_url, sessions, browser):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{served_url}/?date=2025-03-19")
    first = page.locator(".paper").first
    paper_id = first.get_attribute("data-paper-id")
    up = first.locator(".vote.up")
    up.click()
    playwright_api.expect(up).to_have_attribute("aria-pressed", "true")
    with sessions() as session:
        label = session.get(Label, (DEFAULT_TOPIC_ID, paper_id))
        assert label is not None and (label.interest, label.source) == (1, "web")
    first.locator(".more").click()
    playwright_api.expect(first).to_have_class(re.compile(r"\bopen\b"))
    page.screenshot(path=str(SCREENSHOTS / "day-2025-03-19.png"), full_page=False)

    page.locator("#next-day").click()
    page.wait_for_url("**/?date=2025-03-20*")
    assert page.locator(".paper").count() > 0
    assert "2025-03-20" in page.locator(".summary").inner_text()

    page.locator("#prev-day").click()
    page.wait_for_url("**/?date=2025-03-19*")
    again = page.locator(f'.paper[data-paper-id="{paper_id}"] .vote.up')
    playwright_api.expect(again).to_have_attribute("aria-pressed", "true")
    again.click()  # clicking again clears the label
    playwright_api.expect(again).to_have_attribute("aria-pressed", "false")
    with sessions() as session:
        assert session.get(Label, (DEFAULT_TOPIC_ID, paper_id)) is None
