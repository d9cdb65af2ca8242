"""GET /recommendations is rendered once per database version and served from memory after."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

import pytest
from sqlalchemy import select, text, update

from app.core.db import Database, session_scope
from app.jobs.ingest import ingest_day
from app.store.schema import Score
from tests.factories import activate_model_dir, copy_with_threshold, eventually, local_client

WEDNESDAY = dt.date(2025, 3, 19)
DAY = {"date": WEDNESDAY.isoformat()}


@pytest.fixture
def served(client, sessions, settings, holder, tiny_model_dir):
    version_id = activate_model_dir(sessions, tiny_model_dir)
    assert ingest_day(sessions, WEDNESDAY, settings, model=holder.get).status == "success"
    # On PostgreSQL the cache's own thread connects its listener: until then, uncached.
    deadline = time.monotonic() + 10
    while cache_of(client).version() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return version_id


def cache_of(client):
    return client.app.state.services.response_cache


def test_a_repeated_request_is_served_from_the_cache_with_the_same_body(client, served):
    cache = cache_of(client)
    first = client.get("/recommendations", params=DAY)
    hits = cache.hits
    second = client.get("/recommendations", params=DAY)
    assert first.status_code == second.status_code == 200
    assert cache.hits == hits + 1
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == "application/json"


def test_an_unchanged_list_answers_304_to_its_etag(client, served):
    etag = client.get("/recommendations", params=DAY).headers["etag"]
    again = client.get("/recommendations", params=DAY, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/recommendations", params=DAY, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


def test_the_cache_is_on_with_sqlite_and_postgresql(client, served):
    first = client.get("/recommendations", params=DAY)
    assert client.get("/recommendations", params=DAY).content == first.content
    assert cache_of(client).enabled and cache_of(client).hits >= 1


def test_a_commit_from_another_process_shows_at_once(client, served, settings):
    before = client.get("/recommendations", params=DAY).json()
    assert before["papers"], "the fixture day needs a recommended paper"
    top = before["papers"][0]["id"]
    assert client.get("/recommendations", params=DAY).json() == before  # from the cache
    renders = cache_of(client).renders
    # A connection of its own stands in for another process (the CLI, a worker on another
    # host): a plain sqlite3 one, or on PostgreSQL an engine of its own.
    if settings.resolved_database_url.startswith("sqlite"):
        database = settings.resolved_database_url.removeprefix("sqlite:///")
        with sqlite3.connect(database) as other:
            other.execute("UPDATE scores SET probability = 0.0 WHERE paper_id = ?", (top,))
        other.close()
    else:
        other = Database(settings.resolved_database_url, migrate=False)
        with other, other.engine.begin() as connection:
            connection.execute(
                text("UPDATE scores SET probability = 0.0 WHERE paper_id = :id"), {"id": top}
            )
        time.sleep(0.05)  # the moment a notification takes to arrive (the module says why)
    # Scores are the job's change: at most one answer as it was while the list renders afresh.
    after = eventually(
        lambda: client.get("/recommendations", params=DAY).json(),
        lambda after: top not in {p["id"] for p in after["papers"]},
    )
    assert cache_of(client).renders > renders  # rendered afresh
    assert top not in {p["id"] for p in after["papers"]}
    assert after["recommended"] == before["recommended"] - 1


def test_new_scores_and_a_new_model_are_never_hidden_by_the_cache(
    client, served, sessions, tiny_model_dir, tmp_path
):
    all_papers = {"all": "true", **DAY}
    before = client.get("/recommendations", params=all_papers).json()
    with session_scope(sessions) as session:
        session.execute(update(Score).values(probability=0.999))
    raised = eventually(
        lambda: client.get("/recommendations", params=all_papers).json(),
        lambda raised: raised["recommended"] == before["total_papers"],
    )
    assert [p["probability"] for p in raised["papers"]] == [pytest.approx(0.999)] * len(
        raised["papers"]
    )
    assert raised["recommended"] == before["total_papers"]

    strict = copy_with_threshold(tiny_model_dir, tmp_path / "strict", 1.0)
    new_id = activate_model_dir(sessions, strict, name="strict")
    switched = client.get("/recommendations", params=DAY).json()
    assert switched["active_model_id"] == new_id
    # Until the new model re-scores the day, the list keeps the previous model's scores.
    assert switched["rescoring"] is True and switched["model"]["id"] == raised["model"]["id"]
    with sessions() as session:
        assert session.scalar(select(Score.id).where(Score.model_version_id == new_id)) is None


def test_errors_are_not_cached(client, served):
    assert client.get("/recommendations", params={"date": "2025-03-18"}).status_code == 404
    assert client.get("/recommendations", params={"date": "2025-03-18"}).status_code == 404
    assert cache_of(client).hits == 0


def test_the_cache_can_be_turned_off(settings, served):

    from app.main import create_app

    off = settings.model_copy(update={"response_cache_entries": 0})
    with local_client(create_app(off)) as client:
        first = client.get("/recommendations", params=DAY)
        second = client.get("/recommendations", params=DAY)
        assert first.content == second.content
        assert not cache_of(client).enabled and cache_of(client).hits == 0


def test_concurrent_misses_share_one_rendering(client, served, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from app.store import queries

    slow_query = queries.day_recommendations

    def slow(*args, **kwargs):
        time.sleep(0.3)  # long enough that every request below arrives during the rendering
        return slow_query(*args, **kwargs)

    monkeypatch.setattr(queries, "day_recommendations", slow)
    cache = cache_of(client)
    renders = cache.renders
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: client.get("/recommendations", params=DAY), range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert cache.renders == renders + 1


def test_a_model_switched_to_in_the_background_is_never_hidden_by_the_cache(
    client, served, sessions, tiny_model_dir, tmp_path
):
    """A web process of `serve --workers` loads a new model in the background: the switch
    commits nothing, so the cache forgets the lists rendered with the previous model."""
    holder = client.app.state.services.holders.default
    holder.background = True
    before = client.get("/recommendations", params=DAY).json()
    strict = copy_with_threshold(tiny_model_dir, tmp_path / "strict", 1.0)
    new_id = activate_model_dir(sessions, strict, name="strict")
    during = client.get("/recommendations", params=DAY).json()  # starts the load
    assert during["model"]["id"] == before["model"]["id"]
    holder._loading.join(30)
    after = client.get("/recommendations", params=DAY).json()
    assert after["active_model_id"] == new_id
    assert after != during


def test_a_model_switch_re_renders_its_topics_lists_only(
    client, served, sessions, tiny_model_dir, tmp_path
):
    """Thirty topics retrained in a night are thirty switches: each forgets its own topic's
    lists, not every reader's (the whole cache re-rendered per switch was the lab bench's p99
    of 1.4 s, bench/lab.py)."""
    import shutil

    from app.serving.registry import register_model
    from app.store.topics import create_topic
    from training.inference.artifact import ModelMeta

    copy = tmp_path / "robots-model"
    shutil.copytree(tiny_model_dir, copy)
    with session_scope(sessions) as session:
        second = create_topic(session, "robots").id
        register_model(
            session, path=copy, meta=ModelMeta.load(copy), activate=True, topic_id=second
        )
    robots = {**DAY, "topic": "robots"}
    client.get("/recommendations", params=DAY)
    client.get("/recommendations", params=robots)
    cache = cache_of(client)
    renders = cache.renders
    cache.invalidate(scope=second)  # the robots topic's model switched in this process
    client.get("/recommendations", params=DAY)
    assert cache.renders == renders  # the default topic's list: still served from memory
    client.get("/recommendations", params=robots)
    assert cache.renders == renders + 1


def test_a_commit_re_renders_the_lists_of_the_topic_it_changed_only(
    client, served, sessions, tiny_model_dir, tmp_path, day_ids
):
    """Migration 0012: a commit says which topics it changed. Another topic's labels and scores
    leave a list cached; its own topic's label, or a change every topic shares, do not."""
    import shutil

    from app.serving.registry import register_model
    from app.store.labels import set_label
    from app.store.schema import Paper
    from app.store.topics import create_topic
    from training.inference.artifact import ModelMeta

    copy = tmp_path / "robots-model"
    shutil.copytree(tiny_model_dir, copy)
    with session_scope(sessions) as session:
        robots = create_topic(session, "robots").id
        other = register_model(
            session, path=copy, meta=ModelMeta.load(copy), activate=True, topic_id=robots
        ).id
    cache = cache_of(client)

    def rendered_again() -> bool:
        renders = cache.renders
        assert client.get("/recommendations", params=DAY).status_code == 200
        return cache.renders > renders

    rendered_again()
    with session_scope(sessions) as session:  # another topic's label and score
        set_label(session, paper_id=day_ids[0], interest=1, source="web", topic_id=robots)
        session.add(Score(paper_id=day_ids[1], model_version_id=other, probability=0.5))
    wait_for_notifications(cache)
    assert not rendered_again()
    with session_scope(sessions) as session:  # this topic's own label
        set_label(session, paper_id=day_ids[0], interest=1, source="web")
    wait_for_notifications(cache)
    assert rendered_again()
    with session_scope(sessions) as session:  # what every topic shares
        session.get_one(Paper, day_ids[2]).comment = "changed"
    wait_for_notifications(cache)
    assert rendered_again()


def wait_for_notifications(cache) -> None:
    """PostgreSQL's notifications arrive a moment after the commit."""
    time.sleep(0.2 if cache._postgresql is not None else 0)


def test_a_slow_rendering_after_the_jobs_changes_answers_the_list_as_it_was_meanwhile(
    client, served, sessions, monkeypatch, tiny_model_dir, tmp_path
):
    """The night's ingestion changes every list at once: rather than wait behind the other
    lists' renderings, a request gets the list as it was when its fresh one is not ready within
    STALE_WAIT_SECONDS, and the next one after the rendering gets the fresh one; so does a
    re-scoring's commit of the topic's new scores. A shared change's list rendering alone is
    waited for, as is a change of the topic's own (a model activated)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.core.cache import STALE_WAIT_SECONDS
    from app.store import queries
    from app.store.schema import Paper

    short = {**DAY, "limit": "5"}  # a second list
    before, before_short = (client.get("/recommendations", params=p) for p in (DAY, short))
    cache = cache_of(client)
    slow_query, released = queries.day_recommendations, threading.Event()

    def slow(*args, **kwargs):
        released.wait(10)
        return slow_query(*args, **kwargs)

    monkeypatch.setattr(queries, "day_recommendations", slow)
    shown = before.json()["papers"][0]["id"]
    with session_scope(sessions) as session:  # what every topic shares: a paper's title
        session.get_one(Paper, shown).title = "A title changed by the night's ingestion"
    wait_for_notifications(cache)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, "/recommendations", params=DAY)  # renders, alone
        deadline = time.monotonic() + 10
        while not cache.rendering:
            assert time.monotonic() < deadline, "the first list never started rendering"
            time.sleep(0.01)
        started = time.monotonic()
        stale = client.get("/recommendations", params=short)  # beside it: not waited for
        assert stale.status_code == 200 and stale.content == before_short.content
        assert stale.headers["cache-status"] == "arxiv-reco; hit; detail=stale"
        assert time.monotonic() - started < 5  # not the 10 s the rendering would have taken
        assert not waiting.done()
        released.set()
        fresh = waiting.result(timeout=10)
    assert STALE_WAIT_SECONDS < 0.1
    assert fresh.json()["papers"][0]["title"] == "A title changed by the night's ingestion"
    deadline = time.monotonic() + 10
    while (fresh_short := client.get("/recommendations", params=short)).content == stale.content:
        assert time.monotonic() - started < 10, "the fresh list never came"
        time.sleep(0.05)
    assert fresh_short.json()["papers"][0]["title"] == "A title changed by the night's ingestion"
    assert "cache-status" not in fresh.headers and "cache-status" not in fresh_short.headers

    def a_bit_slow(*args, **kwargs):
        time.sleep(0.3)
        return slow_query(*args, **kwargs)

    monkeypatch.setattr(queries, "day_recommendations", a_bit_slow)
    with session_scope(sessions) as session:  # a shared change, and one reader: waited for
        session.get_one(Paper, shown).title = "Changed again"
    wait_for_notifications(cache)
    assert client.get("/recommendations", params=DAY).json()["papers"][0]["title"] == (
        "Changed again"
    )
    # The topic's new scores (a re-scoring's commit, the job's): answered as it was meanwhile,
    # even with no other list rendering.
    as_it_was = client.get("/recommendations", params=DAY)
    with session_scope(sessions) as session:
        session.execute(update(Score).where(Score.paper_id == shown).values(probability=0.0))
    wait_for_notifications(cache)
    answered = client.get("/recommendations", params=DAY)
    assert answered.content == as_it_was.content and "cache-status" in answered.headers
    deadline = time.monotonic() + 10
    while shown in {p["id"] for p in client.get("/recommendations", params=DAY).json()["papers"]}:
        assert time.monotonic() < deadline, "the rescored list never came"
        time.sleep(0.05)
    # The topic's own change (a model activated, as a reader's retrain does): waited for.
    strict = copy_with_threshold(tiny_model_dir, tmp_path / "strict", 1.0)
    new_id = activate_model_dir(sessions, strict, name="strict")
    wait_for_notifications(cache)
    assert client.get("/recommendations", params=DAY).json()["active_model_id"] == new_id


def test_a_list_whose_fresh_rendering_fails_is_never_answered_as_it_was(
    client, served, sessions, monkeypatch
):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.store import queries
    from app.store.schema import Paper

    short = {**DAY, "limit": "5"}
    before, before_short = (client.get("/recommendations", params=p) for p in (DAY, short))
    real, released = queries.day_recommendations, threading.Event()

    def rendering(*args, **kwargs):
        if kwargs.get("limit") == 5:  # the short list's rendering fails, slowly
            time.sleep(0.1)
            raise RuntimeError("the rendering failed")
        released.wait(10)  # the other list renders meanwhile: the service is busy
        return real(*args, **kwargs)

    monkeypatch.setattr(queries, "day_recommendations", rendering)
    with session_scope(sessions) as session:
        session.get_one(Paper, before.json()["papers"][0]["id"]).title = "changed"
    cache = cache_of(client)
    wait_for_notifications(cache)
    local = local_client(client.app, raise_server_exceptions=False)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, "/recommendations", params=DAY)
        deadline = time.monotonic() + 10
        while not cache.rendering:
            assert time.monotonic() < deadline, "the first list never started rendering"
            time.sleep(0.01)
        first = local.get("/recommendations", params=short)
        assert first.status_code == 200 and first.content == before_short.content
        time.sleep(0.5)  # its rendering failed meanwhile; the other list still renders
        answers = [local.get("/recommendations", params=short) for _ in range(2)]
        assert [a.status_code for a in answers] == [500, 500]
        released.set()
        assert waiting.result(timeout=10).status_code == 200
