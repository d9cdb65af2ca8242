"""Every page and API route that lists papers, in a topic (issue 19): search, "more like this",
a paper, the onboarding and the status take ``?topic=``, label and score in it, and a card names
the other topics whose model recommends its paper."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.jobs.ingest import ingest_day
from app.store.schema import DEFAULT_TOPIC_ID, Label
from tests.factories import activate_model_dir, topic_with_a_lower_threshold

FRIDAY = dt.date(2025, 3, 21)
HTML = {"accept": "text/html"}
ELSEWHERE = re.compile(r'<p class="elsewhere"[^>]*>also liked in (.*?)</p>', re.S)


@pytest.fixture
def robots(sessions, settings, holder, holders, tfidf_meta_model_dir, tmp_path) -> int:
    """Friday scored by the default topic's tfidf model and by the topic ``robots``, whose copy
    of it recommends those papers and three more."""
    activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-pages")
    assert ingest_day(sessions, FRIDAY, settings, model=holder.get).status == "success"
    return topic_with_a_lower_threshold(
        sessions, holders, tfidf_meta_model_dir, tmp_path / "robots-model", name="robots"
    )


def _recommended(client, topic: str) -> list[str]:
    answer = client.get("/recommendations", params={"date": FRIDAY.isoformat(), "topic": topic})
    return [p["id"] for p in answer.json()["papers"]]


def _cards(text: str) -> dict[str, str | None]:
    """Each card's paper and the topics its "also liked in" names (None: no such line)."""
    cards = {}
    for block in text.split('<li class="paper')[1:]:
        paper_id = re.search(r'data-paper-id="([^"]+)"', block)[1]
        also = ELSEWHERE.search(block)
        cards[paper_id] = (
            ", ".join(re.findall(r">([^<]+)</a>", also[1])) if also is not None else None
        )
    return cards


def test_a_card_names_the_other_topics_that_like_its_paper(client, robots):
    both, only_robots = _recommended(client, "default"), _recommended(client, "robots")
    assert set(both) < set(only_robots) and len(only_robots) == len(both) + 3
    day = _cards(client.get(f"/?date={FRIDAY}&all=true", headers=HTML).text)
    assert {p for p, also in day.items() if also == "robots"} == set(only_robots)
    assert all(also is None for p, also in day.items() if p not in only_robots)
    in_robots = _cards(client.get(f"/?date={FRIDAY}&topic=robots", headers=HTML).text)
    assert {p for p, also in in_robots.items() if also == "default"} == set(both)
    paper = client.get(f"/papers/{both[0]}?topic=robots", headers=HTML).text
    assert _cards(paper)[both[0]] == "default"


def test_search_and_similar_label_and_score_in_the_topic(client, sessions, robots):
    paper = _recommended(client, "robots")[-1]  # robots' own: below the default threshold
    client.post(f"/papers/{paper}/label", params={"topic": "robots"}, json={"interest": 1})
    title_word = client.get(f"/papers/{paper}").json()["title"].split()[0]

    found = client.get("/search", params={"q": title_word, "topic": "robots"}).json()
    assert found["topic"] == "robots" and found["model"]["name"] == "robots-model"
    mine = next(p for p in found["papers"] if p["id"] == paper)
    assert (mine["label"], mine["recommended"]) == (1, True)
    default = client.get("/search", params={"q": title_word}).json()
    theirs = next(p for p in default["papers"] if p["id"] == paper)
    assert (default["topic"], theirs["label"], theirs["recommended"]) == ("default", None, False)
    unlabelled = client.get(
        "/search", params={"q": title_word, "topic": "robots", "unlabelled": True}
    ).json()
    assert paper not in [p["id"] for p in unlabelled["papers"]]

    similar = client.get(f"/papers/{paper}/similar", params={"topic": "robots"}).json()
    assert similar["topic"] == "robots" and similar["model"]["name"] == "robots-model"
    for route in ("/search?q=a", f"/papers/{paper}/similar", "/onboarding/next", "/status"):
        missing = client.get(route, params={"topic": "nope"})
        assert missing.status_code == 404 and "no topic 'nope'" in missing.json()["detail"]

    page = client.get("/search", params={"q": title_word, "topic": "robots"}, headers=HTML)
    assert 'data-topic="robots"' in page.text
    assert '<input type="hidden" name="topic" value="robots">' in page.text
    assert 'aria-current="page">robots</a>' in page.text
    gone = client.get("/search", params={"q": title_word, "topic": "gone"}, headers=HTML)
    assert gone.status_code == 200 and "There is no topic &#39;gone&#39;; showing default" in (
        gone.text
    )


def test_onboarding_asks_and_stores_in_the_topic(client, sessions, robots):
    asked = client.get("/onboarding/next", params={"topic": "robots", "limit": 4}).json()
    assert asked["model"]["name"] == "robots-model" and len(asked["papers"]) == 4
    first, second = asked["papers"][0]["id"], asked["papers"][1]["id"]
    answered = client.post(
        "/onboarding/answers",
        params={"topic": "robots"},
        json=[{"paper_id": first, "interest": 0}, {"paper_id": second, "interest": None}],
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["labelled"] == 1 and answered.json()["skipped"] == 1
    with sessions() as session:
        assert session.get_one(Label, (robots, first)).interest == 0
        assert session.get(Label, (DEFAULT_TOPIC_ID, first)) is None
    again = client.get("/onboarding/next", params={"topic": "robots", "limit": 50}).json()
    assert {first, second}.isdisjoint(p["id"] for p in again["papers"])
    # Neither the answer nor the skip is the default topic's: it may still ask both.
    default = client.get("/onboarding/next", params={"limit": 50}).json()
    assert {first, second} <= {p["id"] for p in default["papers"]}
    page = client.get("/onboarding", params={"topic": "robots"}, headers=HTML)
    assert "Teach it your taste in <em>robots</em>" in page.text


def test_status_is_the_topics(client, robots):
    status = client.get("/status", params={"topic": "robots"}).json()
    assert status["topic"] == "robots"
    assert status["model"]["version"]["name"] == "robots-model"
    assert client.get("/status").json()["model"]["version"]["name"] == "tfidf-pages"
    page = client.get("/status", params={"topic": "robots"}, headers=HTML)
    assert page.status_code == 200 and 'aria-current="page">robots</a>' in page.text
