"""The search and "more like this" pages, as a browser asks for them (Accept: text/html)."""

from __future__ import annotations

import re

import pytest

from app.jobs.ingest import ingest_day
from tests.factories import activate_model_dir
from tests.store.test_search import CAM_SEG, DAYS, UTTERANCE_REWRITING

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def served(client, sessions, settings, holder, tiny_model_dir):
    activate_model_dir(sessions, tiny_model_dir, name="tiny-search")
    for day in DAYS:
        ingest_day(sessions, day, settings, model=holder.get)


def _ids(page: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', page)


def _words(page: str) -> str:
    return " ".join(page.split())


def _card(page: str, paper_id: str) -> str:
    card = page[page.index(f'data-paper-id="{paper_id}"') :]
    return card[: card.index("</li>")]


def test_the_search_page_before_a_query_explains_the_syntax(client):
    page = client.get("/search", headers=HTML)
    assert page.status_code == 200 and page.headers["vary"] == "Accept"
    assert '"a phrase"' in page.text and "-word" in page.text
    assert 'name="q"' in page.text and "data-paper-id" not in page.text


def test_the_search_page_lists_labellable_papers_with_their_scores(client, served):
    page = client.get("/search", params={"q": "Cityscapes"}, headers=HTML)
    assert page.status_code == 200
    card = _card(page.text, CAM_SEG)
    assert 'class="vote up" data-interest="1" aria-pressed="false"' in card
    assert 'data-interest="0"' in card and "%</div>" in card  # the model's score
    assert f'href="/papers/{CAM_SEG}/similar"' in card
    assert "/static/app.js" in page.text and "/static/style.css" in page.text
    assert 'value="Cityscapes"' in page.text and "1 paper for" in _words(page.text)
    assert "tiny-search" in page.text

    client.post(f"/papers/{CAM_SEG}/label", json={"interest": 0})
    again = client.get("/search", params={"q": "Cityscapes"}, headers=HTML).text
    assert 'class="vote down" data-interest="0" aria-pressed="true"' in _card(again, CAM_SEG)
    hidden = client.get("/search", params={"q": "Cityscapes", "unlabelled": "true"}, headers=HTML)
    assert "No paper for" in _words(hidden.text) and "data-paper-id" not in hidden.text


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"q": "* -"}, "no word to look for"),
        ({"q": "graph", "category": "cs.XX"}, "not an arXiv category"),
        ({"q": "graph", "since": "someday"}, "is not a time"),
    ],
)
def test_a_bad_search_is_explained_on_the_page(client, params, said):
    page = client.get("/search", params=params, headers=HTML)
    assert page.status_code == 422 and said in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_the_similar_page_lists_related_papers_to_label(client, served):
    first, second = UTTERANCE_REWRITING
    page = client.get(f"/papers/{first}/similar", headers=HTML)
    assert page.status_code == 200
    source, listed = page.text.split('id="similar-papers"')
    assert _ids(source) == [first]
    ids = _ids(listed)
    assert ids[0] == second and first not in ids and len(ids) == 20
    assert listed.count('class="vote up"') == 20


def test_the_similar_page_of_an_unknown_paper_is_a_404_page(client):
    for paper_id in ("2501.99999", "nonsense"):
        page = client.get(f"/papers/{paper_id}/similar", headers=HTML)
        assert page.status_code == 404 and "is not in the database" in page.text


def test_the_day_page_links_to_search_and_to_more_like_this(client, served):
    page = client.get("/?date=2025-03-21&all=true").text
    assert 'action="/search"' in page
    assert f'href="/papers/{CAM_SEG}/similar"' in _card(page, CAM_SEG)
