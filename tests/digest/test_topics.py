"""The digest with two topics: a part per topic in the reader's order, each chosen by its own
model; a paper both recommend shown once, under the first, naming the other; each part's links
label in its own topic, and a link moved to another topic or to a deleted topic labels nothing."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.core.db import session_scope
from app.digest.compose import build_digest
from app.digest.service import send_daily_digest, topic_models
from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, Label
from app.store.topics import delete_topic
from tests.digest.conftest import SECOND, label_links, parts
from tests.digest.test_digest import _remote_client
from tests.factories import local_client


def _digest(sessions, settings, holders):
    with sessions() as session:
        return build_digest(session, settings, topic_models(session, holders), dt.date(2025, 3, 21))


def test_a_part_per_topic_and_a_paper_both_like_shown_once(sessions, settings, holders, two_topics):
    digest = _digest(sessions, settings, holders)
    assert [t.name for t in digest.topics] == ["default", SECOND] and digest.titled
    (first,), (second,) = (t.sections for t in digest.topics)
    assert first.papers and second.papers
    shown = [p.id for p in first.papers] + [p.id for p in second.papers]
    assert len(shown) == len(set(shown))  # never twice
    assert all(p.also == [SECOND] for p in first.papers)  # the second topic likes them too
    assert all(p.also == [] for p in second.papers)  # its own, below the default threshold
    assert second.elsewhere == len(first.papers) and second.recommended == len(shown)
    assert digest.subject.endswith(f": {len(shown)} papers")
    text, html_part = digest.text(), digest.html()
    assert f"######## {SECOND} (model {SECOND}-model) ########" in text
    assert f"Also recommended in: {SECOND}" in text
    assert f"{len(first.papers)} of them shown under an earlier topic" in text
    # The second part opens its topic's day, by id: a rename keeps the link good.
    assert f"?date=2025-03-21&topic_id={two_topics}" in text
    # The links: the first part's in the default topic (no topic in the URL, as before), the
    # second part's carry the second topic's id.
    links = label_links(html_part)
    assert len(links) == 2 * len(shown)
    topics = [parse_qs(urlsplit(url).query).get("topic_id") for url in links]
    assert topics == [None] * (2 * len(first.papers)) + [[str(two_topics)]] * (
        2 * len(second.papers)
    )


def test_the_order_follows_the_reader(sessions, settings, holders, two_topics):
    with local_client(create_app(settings)) as client:
        moved = client.patch(f"/topics/{SECOND}", json={"position": 0})
        assert moved.status_code == 200, moved.text
        assert [t["name"] for t in client.get("/topics").json()] == [SECOND, "default"]
    digest = _digest(sessions, settings, holders)
    assert [t.name for t in digest.topics] == [SECOND, "default"]
    (first,), (second,) = (t.sections for t in digest.topics)
    # Every paper the default topic likes, the robotics topic likes first now.
    assert second.papers == [] and second.elsewhere == second.recommended > 0
    assert "No paper reached" not in digest.text()
    assert all(p.also == ["default"] for p in first.papers[: second.recommended])


def test_each_parts_links_label_in_its_own_topic(sessions, settings, holders, two_topics):
    digest = _digest(sessions, settings, holders)
    second = digest.topics[1].sections[0].papers[0]
    also = digest.topics[0].sections[0].papers[0]
    with _remote_client(settings) as client:
        page = client.get(second.interesting_url)
        assert page.status_code == 200 and f"Mark this paper interesting in {SECOND}?" in page.text
        assert client.post(second.interesting_url).status_code == 200
        assert client.post(also.not_interesting_url).status_code == 200
        # A second-topic link moved to the default topic (its topic dropped) is another link.
        moved = re.sub(r"&?topic_id=\d+", "", second.not_interesting_url)
        assert client.post(moved).status_code == 403
    with sessions() as session:
        assert session.get(Label, (two_topics, second.id)).interest == 1
        assert session.get(Label, (DEFAULT_TOPIC_ID, second.id)) is None
        assert session.get(Label, (DEFAULT_TOPIC_ID, also.id)).interest == 0
        assert session.get(Label, (two_topics, also.id)) is None
    with session_scope(sessions) as session:
        delete_topic(session, SECOND)
    with _remote_client(settings) as client:
        gone = client.get(second.not_interesting_url)
        assert gone.status_code == 403 and "was deleted since the email was sent" in gone.text


def test_the_daily_send_has_every_topic_and_by_hand_one(
    sessions, digest_settings, holders, two_topics, inbox, monkeypatch, capsys
):
    outcome = send_daily_digest(sessions, digest_settings, holders)
    assert outcome is not None and outcome.sent
    text, _ = parts(inbox.messages[0])
    assert f"######## {SECOND}" in text and "######## default" in text

    from app.cli import main

    for name, value in {
        "DATA_DIR": str(digest_settings.data_dir),
        "DATABASE_URL": digest_settings.resolved_database_url,
    }.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name}", value)
    assert main(["digest", "--date", "2025-03-21", "--dry-run", "--topic", SECOND]) == 0
    out = capsys.readouterr().out
    assert f"######## {SECOND}" in out and "######## default" not in out
    with pytest.raises(SystemExit, match="digest: no topic 'nope'"):
        main(["digest", "--date", "2025-03-21", "--dry-run", "--topic", "nope"])


def test_a_paper_the_first_part_had_no_room_for_is_not_said_to_be_shown(
    sessions, settings, holders, two_topics, monkeypatch
):
    monkeypatch.setattr("app.digest.compose.MAX_PAPERS", 1)
    digest = _digest(sessions, settings, holders)
    (first,), (second,) = (t.sections for t in digest.topics)
    assert len(first.papers) == 1 and first.left_out == first.recommended - 1
    # Only the one shown above counts as shown there; the rest is left to the page.
    assert (len(second.papers), second.elsewhere) == (0, 1)
    assert second.left_out == second.recommended - 1
    assert digest.subject.endswith(f": {second.recommended} papers")  # each paper once


def test_a_parts_day_link_opens_its_topic_after_a_rename(
    client, sessions, settings, holders, two_topics
):
    digest = _digest(sessions, settings, holders)
    link = digest.topics[1].sections[0].page_url.removeprefix(settings.public_url)
    assert client.patch(f"/topics/{SECOND}", json={"name": "robots"}).status_code == 200
    page = client.get(link, headers={"accept": "text/html"})
    assert 'aria-current="page">robots</a>' in page.text
    with session_scope(sessions) as session:
        delete_topic(session, "robots")
    gone = client.get(link, headers={"accept": "text/html"})
    assert gone.status_code == 200 and "any more; showing default" in gone.text
