from __future__ import annotations

import datetime as dt

from app.jobs.ingest import ingest_day
from tests.factories import activate_model_dir


def test_a_newcomer_is_told_what_to_do(client):
    page = client.get("/").text
    assert "Getting started" in page
    assert "arxiv-reco labels import" in page and "arxiv-reco retrain" in page
    assert "No papers yet" in page


def test_without_a_model_every_paper_can_still_be_labelled(client, sessions, settings, standin):
    day = dt.date(2025, 3, 19)
    ingest_day(sessions, day, settings)
    expected = len(standin.catalog.on_day(day, settings.categories))
    page = client.get("/?date=2025-03-19").text
    assert "Getting started" in page
    assert page.count('data-paper-id="') == expected == page.count('data-interest="1"')


def test_the_day_page_lists_recommendations_best_first_with_navigation(
    client, sessions, settings, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir, name="tiny-v1")
    for day in (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21)):
        ingest_day(sessions, day, settings, model=holder.get)
    api = client.get("/recommendations", params={"date": "2025-03-20"}).json()
    page = client.get("/?date=2025-03-20").text
    assert "tiny-v1" in page and "last ingest 2025-03-21" in page
    positions = [page.index(f'data-paper-id="{p["id"]}"') for p in api["papers"]]
    assert positions == sorted(positions) and len(positions) == api["recommended"]
    assert 'href="/?date=2025-03-19"' in page and 'href="/?date=2025-03-21"' in page
    everything = client.get("/?date=2025-03-20&all=true").text
    assert everything.count('data-paper-id="') == api["total_papers"]
    assert 'class="paper below"' in everything


def test_a_bad_date_on_the_page_is_explained_not_an_error(client):
    response = client.get("/?date=tomorrow")
    assert response.status_code == 200 and "is not a date" in response.text


def test_the_day_page_renders_math_and_an_iso_date_field(client, sessions, settings):
    ingest_day(sessions, dt.date(2025, 3, 19), settings)
    page = client.get("/?date=2025-03-19").text
    card = page[page.index('data-paper-id="2503.13778"') :]
    card = card[: card.index("</li>")]
    assert card.count('<math display="inline">') >= 5 and "$" not in card
    assert "<msup><mi>R</mi><mn>2</mn></msup>" in card
    assert 'type="date"' not in page
    assert 'name="date" value="2025-03-19"' in page
    assert 'pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}"' in page


def test_the_page_names_no_command_line_flag(client, sessions, settings):
    """A day not fetched yet offers a button, not `arxiv-reco ingest --date`; nothing stored
    yet leads to the categories page."""
    empty = client.get("/").text
    assert "--" not in empty.replace("<!--", "").replace("-->", "")
    assert 'href="/settings/categories"' in empty
    ingest_day(sessions, dt.date(2025, 3, 19), settings)
    page = client.get("/?date=2025-03-18").text
    assert 'id="fetch-day" data-day="2025-03-18"' in page and "ingest --date" not in page


def test_subject_classes_are_stored_and_shown_apart_from_the_categories(client, sessions, settings):
    """arXiv's API lists a paper's MSC and ACM classes among its categories: they showed as
    category chips ("68T50 (Primary) ...") and were offered as categories (issue 17)."""
    ingest_day(sessions, dt.date(2025, 3, 21), settings)
    paper = client.get("/papers/2503.15983").json()
    assert paper["categories"] == ["cs.CL", "cs.AI", "cs.LG"]
    assert paper["subject_classes"] == [
        "68T50 (Primary) 68T07, 68Q32 (Secondary)",
        "I.2.6; I.2.7; I.5.1",
    ]
    page = client.get("/?date=2025-03-21").text
    card = page[page.index('data-paper-id="2503.15983"') :]
    card = card[: card.index("</li>")]
    assert card.count('class="cat"') == 3 and '<span class="cat">68T50' not in card
    assert "68T50 (Primary) 68T07, 68Q32 (Secondary); I.2.6; I.2.7; I.5.1</span>" in card
