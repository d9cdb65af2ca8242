"""Day one in a real Chromium, on a fresh data directory with three days from the stand-in and
no label: the onboarding (answer ten, the counter moves, the new model picks the next batch)
and the followed categories (pick one, its recent days are fetched). One browser for both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.jobs.ingest import ingest_day
from app.main import create_app
from app.store.schema import Label, OnboardingSkip, Paper
from tests.live import CHROMIUM, chromium, serving
from tests.web.conftest import SCREENSHOTS, SERVED_DAYS

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def one_browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium(playwright_api) as browser:
        yield browser


@pytest.fixture
def fresh_url(settings, sessions) -> Iterator[str]:
    """The service on a fresh data directory: three days ingested, no label, no model."""
    for day in SERVED_DAYS:
        assert ingest_day(sessions, day, settings).status == "success"
    with serving(create_app(settings)) as url:
        yield url


def _fits_a_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_answer_ten_and_the_new_model_picks_the_next_batch(fresh_url, sessions, one_browser):
    page = one_browser.new_page(viewport=DESKTOP)
    page.goto(f"{fresh_url}/")
    page.locator("#start-onboarding").click()
    page.wait_for_url("**/onboarding")
    cards = page.locator(".paper[data-asked-id]")
    expect(cards).to_have_count(10)
    first = [cards.nth(i).get_attribute("data-asked-id") for i in range(10)]
    assert {cards.nth(i).get_attribute("data-why") for i in range(10)} == {"newest"}
    progress = page.locator("#progress")
    expect(progress).to_contain_text(re.compile(r"^\s*0 of ~\d+ answers toward a measured model"))
    page.screenshot(path=str(SCREENSHOTS / "onboarding-newest-1280.png"))

    # Three by mouse, the rest by keys: i interesting, x not for me, s skip (each moves on).
    cards.nth(0).locator(".vote.up").click()
    cards.nth(1).locator(".vote.down").click()
    cards.nth(2).locator(".vote.skip").click()
    cards.nth(3).click()
    for key in "ixxxxxx":
        page.keyboard.press(key)
    expect(page.locator("#answered-count")).to_have_text("10 of 10 answered")
    expect(cards.nth(3).locator(".vote.up")).to_have_attribute("aria-pressed", "true")
    expect(cards.nth(9).locator(".vote.down")).to_have_attribute("aria-pressed", "true")

    page.locator("#next-batch").click()
    message = page.locator("#onboarding-message")
    expect(message).to_contain_text("Trained a new model on your 9 labels", timeout=60_000)
    expect(progress).to_contain_text(re.compile(r"^\s*9 of ~\d+ answers toward a measured model"))
    expect(cards).to_have_count(10)
    second = [cards.nth(i).get_attribute("data-asked-id") for i in range(10)]
    whys = [cards.nth(i).get_attribute("data-why") for i in range(10)]
    assert not set(second) & set(first)
    assert whys == ["uncertain"] * 7 + ["explore"] * 3
    expect(page.locator("#chosen-by")).to_contain_text("Chosen by model")
    expect(cards.first.locator(".score")).to_contain_text("%")
    expect(cards.first.locator(".asked-why")).to_contain_text("The model is unsure")
    with sessions() as session:
        labels = {label.paper_id: label for label in session.scalars(select(Label))}
        assert set(labels) == set(first) - {first[2]}
        assert {label.source for label in labels.values()} == {"onboarding"}
        assert labels[first[0]].interest == 1 and labels[first[3]].interest == 1
        assert sum(label.interest for label in labels.values()) == 2
        assert session.scalars(select(OnboardingSkip.paper_id)).all() == [first[2]]
    page.screenshot(path=str(SCREENSHOTS / "onboarding-desktop-1280.png"))

    phone = one_browser.new_page(viewport=PHONE)
    phone.goto(f"{fresh_url}/onboarding")
    expect(phone.locator(".paper[data-asked-id]")).to_have_count(10)
    phone.locator(".paper[data-asked-id]").first.locator(".vote.up").click()
    _fits_a_phone(phone)
    phone.screenshot(path=str(SCREENSHOTS / "onboarding-phone-390.png"))
    phone.screenshot(path=str(SCREENSHOTS / "onboarding-phone-390-full.png"), full_page=True)
    phone.close()
    page.close()


def test_pick_a_category_and_see_its_days_fetched(fresh_url, sessions, standin, one_browser):
    page = one_browser.new_page(viewport=DESKTOP)
    page.goto(f"{fresh_url}/")
    page.get_by_role("link", name="Categories").click()
    page.wait_for_url("**/settings/categories")
    followed = page.locator('input[name="category"]:checked')
    expect(followed).to_have_count(3)
    page.locator("#category-filter").fill("vision")
    visible = page.locator(".category:visible")
    expect(visible).to_have_count(1)
    expect(visible.first).to_contain_text("cs.CV Computer Vision and Pattern Recognition")
    expect(page.locator(".archive:visible")).to_have_count(1)
    visible.first.locator("input").check()
    page.locator("#save-categories").click()
    expect(page.locator("#categories-status")).to_have_text("Saved: added cs.CV.")
    backfill = page.locator("#backfill")
    expect(backfill).to_contain_text(
        re.compile(r"^Fetched cs\.CV for 2025-03-15 to 2025-03-21: \d+ new papers\.$"),
        timeout=30_000,
    )
    expect(page.locator("#followed")).to_contain_text("cs.AI, cs.CL, cs.CV, cs.LG")
    vision = {e.id for day in SERVED_DAYS for e in standin.catalog.on_day(day, ["cs.CV"])}
    with sessions() as session:
        assert vision <= set(session.scalars(select(Paper.id)))
    page.locator("#category-filter").fill("")
    page.screenshot(path=str(SCREENSHOTS / "categories-desktop-1280.png"))

    # An unknown category never reaches the service from here; removing one says its papers stay.
    page.locator('input[value="cs.AI"]').uncheck()
    page.locator("#save-categories").click()
    expect(page.locator("#categories-status")).to_have_text(
        "Saved: no longer fetching cs.AI (their papers stay)."
    )
    page.reload()
    expect(page.locator('input[value="cs.AI"]')).not_to_be_checked()
    expect(page.locator('input[value="cs.CV"]')).to_be_checked()

    phone = one_browser.new_page(viewport=PHONE)
    phone.goto(f"{fresh_url}/settings/categories")
    _fits_a_phone(phone)
    phone.screenshot(path=str(SCREENSHOTS / "categories-phone-390.png"))
    phone.close()
    page.close()
