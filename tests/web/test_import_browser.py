"""The import form of "Getting started" and the page of one's own papers (/seed), in a real
headless Chromium against the stand-in (tests/web/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.jobs.ingest import ingest_day
from app.main import create_app
from app.store.schema import Label
from tests.label_import.conftest import IMPORTS
from tests.live import serving
from tests.web.conftest import SCREENSHOTS, SERVED_DAYS

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def new_reader_url(settings, sessions):
    """A service with a day of papers and no model yet: the page says how to get started."""
    ingest_day(sessions, SERVED_DAYS[0], settings)
    with serving(create_app(settings)) as url:
        yield url


def _labels(sessions) -> dict[str, str]:
    with sessions() as session:
        return {label.paper_id: label.source for label in session.scalars(select(Label))}


def test_pasted_ids_and_an_uploaded_bibtex_file_are_imported_from_the_page(
    new_reader_url, browser, sessions
):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{new_reader_url}/?date={SERVED_DAYS[0]}")
    box = page.get_by_label("Paste arXiv ids or URLs, or upload a BibTeX / Zotero / CSV file")
    page.get_by_label("then train a first model on them").uncheck()  # the next test trains
    box.fill("2503.16048\nhttps://arxiv.org/abs/2503.16063v1\n")
    page.get_by_role("button", name="Import").click()
    report = page.locator("#import-report")
    expect(report).to_contain_text("2 arXiv ids: 2 new labels")
    expect(report).to_contain_text("2 fetched from arXiv")
    expect(page.locator("#label-count")).to_have_text("2")
    assert set(_labels(sessions)) == {"2503.16048", "2503.16063"}

    box.fill("")
    page.locator('#import-form input[type="file"]').set_input_files(str(IMPORTS / "papers.bib"))
    page.get_by_role("button", name="Import").click()
    expect(report).to_contain_text("9 entries (BibTeX): 7 new labels")
    expect(report).to_contain_text("line 65: lecun1998gradient")
    page.screenshot(path=str(SCREENSHOTS / "import-desktop.png"))
    assert len(_labels(sessions)) == 9

    page.locator('#import-form input[type="file"]').set_input_files([])
    box.fill("2503.16048\nnot an id\n")
    page.get_by_role("button", name="Import").click()
    expect(report).to_contain_text("Nothing imported: pasted text line 2: 'not an id'")
    expect(report).to_have_class("import-report error")
    page.close()


def test_an_author_s_papers_are_found_ticked_and_labelled(new_reader_url, browser, sessions):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{new_reader_url}/")
    page.get_by_role("link", name="find your own papers").click()
    page.wait_for_url("**/seed")
    page.get_by_label("Your name as arXiv lists it").fill("Jiachen Li")
    page.get_by_role("button", name="Find my papers").click()
    page.wait_for_url("**/seed?name=Jiachen+Li")
    boxes = page.locator('#seed-form input[name="id"]')
    expect(boxes).to_have_count(3)
    boxes.nth(0).check()
    boxes.nth(2).check()
    page.get_by_role("button", name="Label the ticked papers interesting").click()
    expect(page.locator("#import-report")).to_contain_text("2 arXiv ids: 2 new labels")
    ticked = {boxes.nth(0).get_attribute("value"), boxes.nth(2).get_attribute("value")}
    assert _labels(sessions) == {paper_id: "import" for paper_id in ticked}
    page.screenshot(path=str(SCREENSHOTS / "seed-desktop.png"))

    phone = browser.new_page(viewport=PHONE)
    for url in ("/seed?name=Jiachen+Li", "/"):
        phone.goto(f"{new_reader_url}{url}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(SCREENSHOTS / "import-phone.png"))
    phone.close()
    page.close()


def test_three_pasted_ids_give_a_ranked_day(new_reader_url, browser, sessions):
    """A new reader's first minute: three arXiv ids pasted, and the day comes back ranked by
    an early model, with its scores and the count toward a measured one."""
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{new_reader_url}/?date={SERVED_DAYS[0]}")
    expect(page.locator("#status-line")).to_contain_text("No model yet")
    box = page.get_by_label("Paste arXiv ids or URLs, or upload a BibTeX / Zotero / CSV file")
    box.fill("2503.16048\n2503.16063\narXiv:2503.15621\n")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-report")).to_contain_text("3 arXiv ids: 3 new labels")
    # The import starts the retrain; the page reloads once the new model ranked the day.
    early = page.locator("#early-model")
    expect(early).to_contain_text("an early model, about 10 papers a day", timeout=90_000)
    expect(early).to_contain_text("37 more ✓ and 80 more ✕ make a measured one")
    scores = page.locator("li.paper .score")
    expect(scores.first).to_be_visible()
    values = [float(text.strip().rstrip("%")) for text in scores.all_inner_texts()]
    assert values and values == sorted(values, reverse=True)
    page.screenshot(path=str(SCREENSHOTS / "first-day-desktop.png"), full_page=False)
    page.close()
