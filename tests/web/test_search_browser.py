"""The search and "more like this" pages in a real headless Chromium (tests/web/conftest.py)."""

from __future__ import annotations

import pytest

from app.store.schema import DEFAULT_TOPIC_ID, Label
from tests.store.test_search import CAM_SEG, UTTERANCE_REWRITING
from tests.web.conftest import SCREENSHOTS

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_search_finds_a_paper_and_more_like_this_labels_one(served_url, browser, sessions):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{served_url}/?date=2025-03-21")
    box = page.get_by_role("searchbox", name="Search papers")
    box.fill("Cityscapes")  # a word of CAM-Seg's abstract
    box.press("Enter")
    page.wait_for_url("**/search?q=Cityscapes*")
    cards = page.locator(".paper")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-paper-id", CAM_SEG)
    expect(cards.first.locator(".score")).to_contain_text("%")  # the active model's score

    first, second = UTTERANCE_REWRITING
    search = page.get_by_role("searchbox", name="Search titles, abstracts and authors")
    search.fill("utterance rewriting")
    search.press("Enter")
    page.wait_for_url("**/search?q=utterance+rewriting*")
    expect(page.locator(".paper")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "search-desktop.png"))

    page.locator(f'.paper[data-paper-id="{first}"] a.similar').click()
    page.wait_for_url(f"**/papers/{first}/similar")
    listed = page.locator("#similar-papers .paper")
    assert listed.count() == 20
    expect(listed.first).to_have_attribute("data-paper-id", second)
    up = listed.first.locator(".vote.up")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#label-count")).to_have_text("1")
    with sessions() as session:
        label = session.get(Label, (DEFAULT_TOPIC_ID, second))
        assert label is not None and (label.interest, label.source) == (1, "web")
    page.screenshot(path=str(SCREENSHOTS / "similar-desktop.png"))

    phone = browser.new_page(viewport=PHONE)
    for url, name in (
        ("/search?q=utterance+rewriting", "search-phone.png"),
        (f"/papers/{first}/similar", "similar-phone.png"),
    ):
        phone.goto(f"{served_url}{url}")
        expect(phone.locator(".paper").first).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=str(SCREENSHOTS / name))
    phone.close()

    # Another visit (another tab of this browser): the first visit is "my last visit".
    later = context.new_page()
    later.goto(f"{served_url}/search")
    since = later.locator("#since option", has_text="since my last visit")
    expect(since).to_have_count(1)
    later.locator("#since").select_option(since.get_attribute("value"))
    later.get_by_role("searchbox").fill("utterance")
    later.get_by_role("searchbox").press("Enter")
    later.wait_for_url("**/search?q=utterance*since=*")
    # Every paper was stored before the first visit: none is new since.
    expect(later.locator("#result-count")).to_contain_text("No paper")
    context.close()
