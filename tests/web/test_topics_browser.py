"""The page's topic switcher in a real headless Chromium (issue 19): switch with a click and
with the key t, label in the topic shown, and the other topic's labels stay as they were."""

from __future__ import annotations

import pytest

from app.core.db import session_scope
from app.store.schema import DEFAULT_TOPIC_ID, Label
from app.store.topics import create_topic
from tests.web.conftest import SCREENSHOTS

playwright_api = pytest.importorskip("playwright.sync_api")


def test_switch_topics_and_label_in_the_one_shown(served_url, sessions, browser):
    with session_scope(sessions) as session:
        robots = create_topic(session, "robots").id
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{served_url}/?date=2025-03-19")
    current = page.locator('nav.topics a[aria-current="page"]')
    playwright_api.expect(current).to_have_text("default")

    page.locator('nav.topics a[data-topic="robots"]').click()
    page.wait_for_url("**/?date=2025-03-19&topic=robots")
    playwright_api.expect(current).to_have_text("robots")
    # No model in this topic yet: every paper of the day, unscored, to label.
    first = page.locator(".paper").first
    paper_id = first.get_attribute("data-paper-id")
    up = first.locator(".vote.up")
    up.click()
    playwright_api.expect(up).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(SCREENSHOTS / "topics-switcher.png"), full_page=False)
    with sessions() as session:
        assert session.get_one(Label, (robots, paper_id)).interest == 1
        assert session.get(Label, (DEFAULT_TOPIC_ID, paper_id)) is None
    assert "topic=robots" in page.locator("#next-day").get_attribute("href")

    page.keyboard.press("t")  # after the last topic, the first
    page.wait_for_url("**/?date=2025-03-19")
    playwright_api.expect(current).to_have_text("default")
    same = page.locator(f'.paper[data-paper-id="{paper_id}"] .vote.up')
    if same.count():
        playwright_api.expect(same).to_have_attribute("aria-pressed", "false")

    # Search has the switcher too, and labels in the topic it shows.
    page.goto(f"{served_url}/search?q=learning")
    playwright_api.expect(current).to_have_text("default")
    page.keyboard.press("t")
    page.wait_for_url("**/search?q=learning&topic=robots")
    playwright_api.expect(current).to_have_text("robots")
    assert page.locator('form.search input[name="topic"]').get_attribute("value") == "robots"
    found = page.locator(".paper").nth(1)
    found_id = found.get_attribute("data-paper-id")
    found.locator(".vote.down").click()
    playwright_api.expect(found.locator(".vote.down")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(SCREENSHOTS / "topics-search.png"), full_page=False)
    with sessions() as session:
        assert session.get_one(Label, (robots, found_id)).interest == 0
        assert session.get(Label, (DEFAULT_TOPIC_ID, found_id)) is None


def test_a_new_topic_from_five_pasted_ids_ranks_its_day_in_under_a_minute(
    served_url, sessions, browser
):
    """Issue 19's first goal, as a new user would: make a topic, paste five ids on its page with
    "then train" ticked, and see its own ranked day; the default topic's list is unchanged."""
    import time

    import httpx

    before = httpx.get(f"{served_url}/recommendations", params={"date": "2025-03-19", "all": True})
    with session_scope(sessions) as session:
        create_topic(session, "robots")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{served_url}/?topic=robots&date=2025-03-19")
    ids = [page.locator(".paper").nth(n).get_attribute("data-paper-id") for n in range(5)]
    started = time.monotonic()
    page.locator("textarea[name=text]").fill("\n".join(ids))
    page.locator("#import-form button[type=submit]").click()
    playwright_api.expect(page.locator("#status-line")).to_contain_text("Model", timeout=60_000)
    seconds = time.monotonic() - started
    print(f"\nfive pasted ids to the topic's own ranked day: {seconds:.1f} s")  # pytest -s
    assert seconds < 60
    playwright_api.expect(page.locator('nav.topics a[aria-current="page"]')).to_have_text("robots")
    assert page.locator(".paper .score").first.inner_text().endswith("%")
    page.screenshot(path=str(SCREENSHOTS / "topics-own-day.png"), full_page=False)
    after = httpx.get(f"{served_url}/recommendations", params={"date": "2025-03-19", "all": True})
    assert after.json() == before.json()
