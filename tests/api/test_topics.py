"""Topics through the API (issue 19): GET/POST/PATCH/DELETE /topics, and a paper labelled in
two topics at once, each topic's labels apart."""

from __future__ import annotations

import io
import time
from pathlib import Path

import feedparser
import pandas as pd
from sqlalchemy import select

from app.store.schema import Label, Topic


def _labels(sessions) -> list[tuple[str, str, int]]:
    with sessions() as session:
        rows = session.execute(
            select(Topic.name, Label.paper_id, Label.interest).join(
                Topic, Topic.id == Label.topic_id
            )
        ).all()
    return sorted(tuple(r) for r in rows)


def test_topics_are_listed_added_renamed_and_deleted(client, sessions, day_ids, settings):
    assert client.get("/topics").json() == [
        {"name": "default", "position": 0, "labels": 0, "active_model_id": None}
    ]
    added = client.post("/topics", json={"name": "LLM-Evaluation"})
    assert added.status_code == 201 and added.json()["name"] == "llm-evaluation"
    assert client.post("/topics", json={"name": "llm-evaluation"}).status_code == 409
    bad = client.post("/topics", json={"name": "two words"})
    assert bad.status_code == 422 and "is not a slug" in str(bad.json()["detail"])
    client.post(
        f"/papers/{day_ids[0]}/label", params={"topic": "llm-evaluation"}, json={"interest": 1}
    )
    renamed = client.patch("/topics/llm-evaluation", json={"name": "evals"})
    assert renamed.json() == {"name": "evals", "position": 1, "labels": 1, "active_model_id": None}
    assert client.patch("/topics/default", json={"name": "x"}).status_code == 409
    unknown = client.patch("/topics/nope", json={"name": "x"})
    assert unknown.status_code == 404 and "no topic 'nope'" in unknown.json()["detail"]

    refused = client.delete("/topics/evals", params={"confirm": "eval"})
    assert refused.status_code == 422 and "does not repeat" in str(refused.json()["detail"])
    assert client.delete("/topics/default", params={"confirm": "default"}).status_code == 409
    deleted = client.delete("/topics/evals", params={"confirm": "evals"}).json()
    assert (deleted["name"], deleted["labels"]) == ("evals", 1)
    export = Path(deleted["labels_export"])
    assert export.parent == Path(settings.data_dir) / "exports"
    assert pd.read_csv(export)["paper_id"].astype(str).tolist() == [day_ids[0]]
    assert [t["name"] for t in client.get("/topics").json()] == ["default"]
    assert _labels(sessions) == []


def test_a_paper_is_interesting_in_one_topic_and_not_in_another(client, sessions, day_ids):
    client.post("/topics", json={"name": "robots"})
    paper = day_ids[0]
    assert client.post(f"/papers/{paper}/label", json={"interest": 0}).status_code == 200
    answer = client.post(f"/papers/{paper}/label", params={"topic": "ROBOTS"}, json={"interest": 1})
    assert answer.json() == {"paper_id": paper, "interest": 1}
    assert _labels(sessions) == [("default", paper, 0), ("robots", paper, 1)]

    robots = pd.read_csv(io.StringIO(client.get("/labels.csv", params={"topic": "robots"}).text))
    default = pd.read_csv(io.StringIO(client.get("/labels.csv").text))
    assert robots["interest"].tolist() == [1] and default["interest"].tolist() == [0]

    client.delete(f"/papers/{paper}/label", params={"topic": "robots"})
    assert _labels(sessions) == [("default", paper, 0)]


def test_an_unknown_topic_is_a_404_naming_it_and_stores_nothing(client, sessions, day_ids):
    for response in (
        client.post(f"/papers/{day_ids[0]}/label", params={"topic": "nope"}, json={"interest": 1}),
        client.delete(f"/papers/{day_ids[0]}/label", params={"topic": "nope"}),
        client.get("/labels.csv", params={"topic": "nope"}),
    ):
        assert response.status_code == 404
        assert "no topic 'nope'" in response.json()["detail"]
    assert _labels(sessions) == []


def _retrained(client, topic: str) -> dict:
    assert client.post("/retrain", params={"topic": topic}).status_code == 202
    deadline = time.monotonic() + 60
    while (state := client.get("/retrain").json())["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["topic"] == topic
    return state


def _settled(client, **params) -> dict:
    """The day's list once the active model has scored every paper of it (re-scoring runs in
    the background after an activation)."""
    deadline = time.monotonic() + 60
    while True:
        answer = client.get("/recommendations", params={"all": True, **params}).json()
        if not answer["pending"] and not answer["rescoring"]:
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)


def test_a_second_topic_from_five_ids_gets_its_own_model_and_day_list(client, day_ids):
    """Issue 19's first goal, through the API: a second topic from five imported ids has its
    own ranked day, and the first topic's list does not change."""
    for paper in day_ids[:3]:
        client.post(f"/papers/{paper}/label", json={"interest": 1})
    assert _retrained(client, "default")["state"] == "done"
    before = _settled(client)

    client.post("/topics", json={"name": "second"})
    untrained = client.get("/recommendations", params={"topic": "second"})
    assert untrained.status_code == 409 and "no model yet" in untrained.json()["detail"]
    ids = "\n".join(day_ids[-5:])
    imported = client.post(
        "/labels/import",
        params={"topic": "second"},
        content=ids,
        headers={"content-type": "text/plain"},
    )
    assert imported.status_code == 200 and imported.json()["new_labels"] == 5
    assert _retrained(client, "second")["state"] == "done"

    second = _settled(client, topic="second")
    default = _settled(client)
    assert default == before
    assert second["model"]["id"] != default["model"]["id"]
    ranked = [p["id"] for p in second["papers"]]
    assert set(ranked[:5]) & set(day_ids[-5:])  # its own ✓ papers rank among its first
    assert (
        client.get("/models", params={"topic": "second"}).json()[0]["id"] == second["model"]["id"]
    )
    assert [m["id"] for m in client.get("/models").json()] == [default["model"]["id"]]
    scored = client.post("/score", params={"topic": "second"}, json={"abstract": "A robot."})
    assert scored.json()["model"]["id"] == second["model"]["id"]
    detail = client.get(f"/papers/{day_ids[-1]}").json()
    assert [(t["topic"], t["label"]) for t in detail["topics"]] == [
        ("default", None),
        ("second", 1),
    ]
    in_every = {t["topic"]: t for t in detail["topics"]}
    assert in_every["default"]["probability"] == detail["probability"]  # the same stored score
    assert in_every["second"]["probability"] is not None
    assert detail["label"] is None  # the default topic's
    in_second = client.get(f"/papers/{day_ids[-1]}", params={"topic": "second"}).json()
    assert (in_second["label"], in_second["topics"]) == (1, [])
    feed = feedparser.parse(client.get("/feed.atom", params={"topic": "second"}).text)
    assert feed.feed.title == "arxiv-reco: recommended papers (second)"
    assert feed.feed.id.endswith("/feed.atom?topic=second")
    assert client.get("/feed.atom", params={"topic": "nope"}).status_code == 404
    missing = client.get("/recommendations", params={"topic": "nope"})
    assert missing.status_code == 404 and "no topic 'nope'" in missing.json()["detail"]

    # Deleting the topic removes the model directory its retrain made; the default's stays.
    (made,) = client.get("/models", params={"topic": "second"}).json()
    kept = client.get("/models").json()[0]["path"]
    assert Path(made["path"]).is_dir()
    deleted = client.delete("/topics/second", params={"confirm": "second"}).json()
    assert (deleted["model_versions"], deleted["model_directories_removed"]) == (1, 1)
    assert not Path(made["path"]).exists() and Path(kept).is_dir()
    assert _settled(client) == before


def test_topics_are_moved_in_the_readers_order(client):
    for name in ("a", "b", "c"):
        client.post("/topics", json={"name": name})
    moved = client.patch("/topics/c", json={"position": 0})
    assert moved.status_code == 200 and moved.json()["position"] == 0
    assert [t["name"] for t in client.get("/topics").json()] == ["c", "default", "a", "b"]
    both = client.patch("/topics/a", json={"name": "aa", "position": 99})  # past the end: last
    assert both.json()["name"] == "aa"
    assert [t["name"] for t in client.get("/topics").json()] == ["c", "default", "b", "aa"]
    for bad in ({}, {"position": -1}, {"position": "first"}, {"position": "1"}, {"position": True}):
        assert client.patch("/topics/b", json=bad).status_code == 422
