"""The digest's HTML part in a real headless Chromium (Debian's, no browser download), and one
of its label links followed to the service served by uvicorn: the confirmation page, its
button, the label stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.digest.service import send_daily_digest
from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, Label
from tests.digest.conftest import SECOND, label_links, parts
from tests.live import CHROMIUM, chromium, free_port, serving

playwright_api = pytest.importorskip("playwright.sync_api")
SCREENSHOT = Path(__file__).resolve().parents[1] / "_screenshots" / "digest-email.png"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
def served(digest_settings) -> Iterator:
    """The service on a free loopback port, and settings whose links point at it."""
    port = free_port()
    settings = digest_settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    with serving(create_app(settings), port):
        yield settings


def test_the_email_renders_and_its_link_labels_after_the_click(
    served, sessions, holder, holders, friday, inbox
):
    outcome = send_daily_digest(sessions, served, holders)
    assert outcome is not None and outcome.sent
    _, html_part = parts(inbox.messages[0])
    paper_id = label_links(html_part)[0].split("/email/label/")[1].split("?")[0]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    with chromium(playwright_api) as browser:
        page = browser.new_page(viewport={"width": 760, "height": 900})
        page.set_content(html_part)
        cards = page.locator(".paper")
        assert cards.count() == len(label_links(html_part)) // 2
        assert cards.first.locator("a.interesting").is_visible()
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.set_content(html_part)  # a phone's mail client
        phone.screenshot(path=str(SCREENSHOT.with_name("digest-email-phone.png")), full_page=True)
        phone.close()

        cards.first.locator("a.interesting").click()
        page.wait_for_url(f"**/email/label/{paper_id}?*")
        assert "Mark this paper interesting?" in page.content()
        page.screenshot(path=str(SCREENSHOT.with_name("digest-confirm.png")))
        with sessions() as session:
            assert (
                session.get(Label, (DEFAULT_TOPIC_ID, paper_id)) is None
            )  # opening the link stored nothing
        page.get_by_role("button", name="✓ Interesting").click()
        playwright_api.expect(page.locator("h1")).to_have_text("Saved: interesting")
        with sessions() as session:
            label = session.get(Label, (DEFAULT_TOPIC_ID, paper_id))
            assert label is not None and (label.interest, label.source) == (1, "email")


def test_the_email_with_two_topics_renders_and_a_second_topic_link_labels_there(
    served, sessions, holders, two_topics, inbox
):
    """A part per topic, the paper both topics like shown once with the other named, and a
    second-topic link that labels in the second topic only."""
    outcome = send_daily_digest(sessions, served, holders)
    assert outcome is not None and outcome.sent
    _, html_part = parts(inbox.messages[0])
    with chromium(playwright_api) as browser:
        page = browser.new_page(viewport={"width": 760, "height": 900})
        page.set_content(html_part)
        assert page.locator("h2.topic").all_inner_texts() == [
            "default model tfidf-digest",
            f"{SECOND} model {SECOND}-model",
        ]
        cards = page.locator(".paper")
        titles = cards.locator("div:first-child a").all_inner_texts()
        assert len(titles) == len(set(titles)) == len(label_links(html_part)) // 2
        also = page.locator(".also")
        assert also.count() > 0 and also.first.inner_text() == f"Also recommended in {SECOND}"
        page.screenshot(path=str(SCREENSHOT.with_name("digest-topics.png")), full_page=True)

        # The first card of the second part (its own paper, below the default's threshold).
        second_part = page.locator(f"h2.topic:has-text('{SECOND}') ~ .paper").first
        href = second_part.locator("a.interesting").get_attribute("href") or ""
        paper_id = href.split("/email/label/")[1].split("?")[0]
        second_part.locator("a.interesting").click()
        page.wait_for_url(f"**/email/label/{paper_id}?*")
        assert f"Mark this paper interesting in {SECOND}?" in page.content()
        page.screenshot(path=str(SCREENSHOT.with_name("digest-topics-confirm.png")))
        page.get_by_role("button", name="✓ Interesting").click()
        playwright_api.expect(page.locator("h1")).to_have_text(f"Saved: interesting in {SECOND}")

        # The second topic's day on the page: its cards name the topic that likes them too.
        page.goto(f"{served.public_url}/?date=2025-03-21&topic={SECOND}")
        also_liked = page.locator(".paper .elsewhere")
        playwright_api.expect(also_liked.first).to_have_text("also liked in default")
        assert also_liked.count() == len(titles) - 3  # all but its own three
        page.screenshot(path=str(SCREENSHOT.with_name("topics-card-elsewhere.png")))
    with sessions() as session:
        label = session.get(Label, (two_topics, paper_id))
        assert label is not None and (label.interest, label.source) == (1, "email")
        assert session.get(Label, (DEFAULT_TOPIC_ID, paper_id)) is None
