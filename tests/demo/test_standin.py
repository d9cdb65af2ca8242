"""The stand-in answers as arXiv does: the recorded responses in tests/fixtures/arxiv_api are the
reference for id look-ups (an unknown id is an entry-less feed, a malformed one the HTTP 400
error feed), and author queries match as arXiv's au: does."""

from __future__ import annotations

import pytest
import requests

from app.demo.standin import ArxivStandIn, Catalog, author_matches
from tests.recorded import RECORDED, feed_shape, recorded_entries

MIXED = "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"


@pytest.fixture
def recorded_catalog():
    catalog = Catalog()
    for entry in recorded_entries(MIXED) + recorded_entries(
        "id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"
    ):
        catalog.add(entry)
    with ArxivStandIn(catalog) as server:
        yield server


@pytest.mark.parametrize(
    ("id_list", "recorded", "status"),
    [
        ("0808.05394", "id_0808.05394_s0_m100_7b0c7d0a7cdd.xml", 200),  # unknown: no entry
        ("0808.05394,1707.08567", MIXED, 200),  # one unknown, one known
        ("astro-ph/0601001", "id_astro-ph_0601001_s0_m100_3150dca9dc76.xml", 200),
        ("abc", "id_abc_s0_m100_b79c8dcf6bc3.xml", 400),  # malformed: the error feed
    ],
)
def test_id_lookups_answer_in_the_recorded_wire_format(
    recorded_catalog: ArxivStandIn, id_list, recorded, status
):
    answer = requests.get(
        recorded_catalog.url,
        params={"search_query": "", "id_list": id_list, "start": 0, "max_results": 100},
        timeout=5,
    )
    assert answer.status_code == status
    assert feed_shape(answer.content) == feed_shape((RECORDED / recorded).read_bytes())


def _ids(standin: ArxivStandIn, **params: object) -> tuple[int, list[str]]:
    answer = requests.get(standin.url, params=params, timeout=5)
    shape = feed_shape(answer.content)
    total = next(int(text) for tag, _, text in shape if tag.endswith("totalResults"))
    ids = [
        text.split("/abs/")[1] for tag, _, text in shape if tag.endswith("}id") and "/abs/" in text
    ]
    return total, ids


def test_author_queries_match_every_word_of_the_name_in_any_case_with_paging(standin):
    theirs = sorted(
        (e for e in standin.catalog.entries.values() if "Jiachen Li" in e.authors),
        key=lambda e: e.published,
    )
    assert len(theirs) == 3
    expected = [f"{e.id}v1" for e in theirs]
    assert _ids(standin, search_query='au:"Jiachen Li"', max_results=10) == (3, expected)
    assert _ids(standin, search_query='au:"li JIACHEN"', max_results=10) == (3, expected)
    # Pages of two, newest first.
    newest = {"search_query": 'au:"Jiachen Li"', "sortBy": "submittedDate"}
    newest["sortOrder"] = "descending"
    assert _ids(standin, **newest, start=0, max_results=2) == (3, expected[::-1][:2])
    assert _ids(standin, **newest, start=2, max_results=2) == (3, expected[:1])
    # Combined with a category, and nobody.
    assert _ids(standin, search_query='au:"Jiachen Li" AND cat:cs.RO', max_results=10)[0] < 3
    assert _ids(standin, search_query='au:"Nobody Atall"', max_results=10) == (0, [])


@pytest.mark.parametrize(
    ("wanted", "author", "matches"),
    [
        ("Peter Eisert", "Peter Eisert", True),
        ("eisert peter", "Peter Eisert", True),
        ("Amit Roy Chowdhury", "Amit K. Roy Chowdhury", True),
        ("Jiachen Li", "Jiachen Liu", False),
        ("Eisert_P", "Peter Eisert", True),  # arXiv's surname_initial form
        ("Eisert_Q", "Peter Eisert", False),
        ("Jose Garcia", "José García", True),  # accents folded
    ],
)
def test_author_names_match_as_arxiv_matches_them(wanted, author, matches):
    assert author_matches(wanted, author) is matches
