"""GET /search and GET /papers/{id}/similar: JSON, labels and scores beside each paper, 422 for
bad input, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest

from app.jobs.ingest import ingest_day
from tests.factories import activate_model_dir
from tests.store.test_search import CAM_SEG, DAYS, HOSTILE, UTTERANCE_REWRITING


@pytest.fixture
def served(client, sessions, settings, holder, tiny_model_dir):
    """The app with the tiny model active and three real days ingested and scored."""
    version_id = activate_model_dir(sessions, tiny_model_dir)
    for day in DAYS:
        assert ingest_day(sessions, day, settings, model=holder.get).status == "success"
    return version_id


def test_search_answers_papers_with_their_label_and_score(client, served):
    response = client.get("/search", params={"q": "Cityscapes"})
    assert response.status_code == 200
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert body["query"] == "Cityscapes" and body["model"]["id"] == served
    (paper,) = body["papers"]
    assert paper["id"] == CAM_SEG and paper["label"] is None
    assert 0 <= paper["probability"] <= 1
    assert paper["recommended"] == (paper["probability"] >= body["model"]["threshold"])
    assert paper["first_seen_at"] and paper["abstract"] and paper["authors"]

    assert client.post(f"/papers/{CAM_SEG}/label", json={"interest": 1}).status_code == 200
    again = client.get("/search", params={"q": "Purushotham"}).json()["papers"]
    assert [(p["id"], p["label"]) for p in again] == [(CAM_SEG, 1)]
    unlabelled = client.get("/search", params={"q": "Cityscapes", "unlabelled": "true"})
    assert unlabelled.json()["papers"] == []


def test_search_filters_and_limits(client, served):
    everything = client.get("/search", params={"q": "language", "limit": 100}).json()["papers"]
    in_cv = client.get("/search", params={"q": "language", "category": "cs.CV", "limit": 100})
    in_cv_ids = [p["id"] for p in in_cv.json()["papers"]]
    assert in_cv_ids == [p["id"] for p in everything if "cs.CV" in p["categories"]]
    assert 0 < len(in_cv_ids) < len(everything)
    two = client.get("/search", params={"q": "language", "limit": 2}).json()["papers"]
    assert [p["id"] for p in two] == [p["id"] for p in everything[:2]]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()
    assert client.get("/search", params={"q": "language", "since": later}).json()["papers"] == []
    earlier = client.get("/search", params={"q": "language", "since": "2025-01-01", "limit": 100})
    assert len(earlier.json()["papers"]) == len(everything)


@pytest.mark.parametrize(
    ("params", "field", "said"),
    [
        ({}, "q", "Field required"),
        ({"q": ""}, "q", "at least 1 character"),
        ({"q": "   "}, "q", "no word to look for"),
        ({"q": '* - "'}, "q", "no word to look for"),
        ({"q": "-diffusion"}, "q", "no word to look for"),
        ({"q": "x" * 2001}, "q", "at most 2000 characters"),
        ({"q": " ".join(f"w{i}" for i in range(65))}, "q", "at most 64 are searched"),
        ({"q": "a", "category": "cs.XX"}, "category", "not an arXiv category"),
        ({"q": "a", "category": "CS.CL"}, "category", "did you mean cs.CL"),
        ({"q": "a", "since": "last tuesday"}, "since", "datetime"),
        ({"q": "a", "since": "0001-01-01T00:00:00+05:00"}, "since", "out of range"),
        ({"q": "a", "limit": 0}, "limit", "greater than or equal to 1"),
        ({"q": "a", "limit": 101}, "limit", "less than or equal to 100"),
        ({"q": "a", "unlabelled": "perhaps"}, "unlabelled", "boolean"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, params, field, said):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert said in error["msg"]


def test_hostile_queries_are_answered_200_or_422(client, served):
    for query in HOSTILE:
        response = client.get("/search", params={"q": query})
        assert response.status_code in (200, 422), (query, response.text)


def test_more_like_this(client, served):
    first, second = UTTERANCE_REWRITING
    response = client.get(f"/papers/{first}/similar", params={"limit": 5})
    assert response.status_code == 200 and response.headers["vary"] == "Accept"
    body = response.json()
    assert body["paper_id"] == first and body["model"]["id"] == served
    ids = [p["id"] for p in body["papers"]]
    assert ids[0] == second and first not in ids and len(ids) == 5
    assert all(p["probability"] is not None and p["label"] is None for p in body["papers"])
    # A version suffix is dropped, as everywhere.
    assert client.get(f"/papers/{first}v2/similar").json()["paper_id"] == first


def test_more_like_this_of_an_unknown_or_malformed_paper(client, served):
    for path, status in (
        ("/papers/2501.99999/similar", 404),
        ("/papers/hep-th/9901001/similar", 404),
        ("/papers/not-an-id/similar", 422),
        ("/papers/2503.16043/similar?limit=0", 422),
        ("/papers/2503.16043/similar?limit=101", 422),
    ):
        assert client.get(path).status_code == status, path


def test_the_search_routes_declare_their_answers(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/search", "/papers/{paper_id}/similar"):
        (operation,) = paths[path].values()
        assert {"200", "422", "503"} <= set(operation["responses"]), path
    assert "404" in paths["/papers/{paper_id}/similar"]["get"]["responses"]


def test_a_browser_gets_the_page_and_a_client_the_json(client, served):
    page = client.get("/search", params={"q": "Cityscapes"}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'data-paper-id="{CAM_SEG}"' in page.text
    for accept in ("application/json", "*/*"):
        answer = client.get("/search", params={"q": "Cityscapes"}, headers={"Accept": accept})
        assert answer.headers["content-type"] == "application/json"
    similar = client.get(f"/papers/{CAM_SEG}/similar", headers={"Accept": "text/html,*/*"})
    assert similar.headers["content-type"].startswith("text/html")
