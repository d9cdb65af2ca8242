"""Readers (issue 20): the admin makes them, each reads and writes only their own topics,
labels, models and digest address; a single-reader install answers as before until the first
reader is made, who takes its data.

The isolation test walks the OpenAPI schema: every operation is in ``ROUTES`` with who may call
it, so a new route fails here until it says so. Bob's token then calls each one at Alice's
things (her topic's name, her model's id, a paper she labelled, her name), and Alice's data must
be the same afterwards, byte for byte."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.main import create_app
from app.store.schema import Label, ModelVersion, OnboardingSkip, Reader, Topic
from tests.factories import activate_model_dir, local_client

ADMIN = "the-admin-token-of-this-lab-0123456789"
ALICE_TOPIC = "alice-private-topic"


def _admin(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def lab(settings, sessions, day_ids, tfidf_meta_model_dir):
    """A single-reader install with data (a model, labels in two topics), then readers made:
    alice takes that data, bob starts empty. Yields the client, both tokens and the ids."""
    settings = settings.model_copy(update={"api_token": SecretStr(ADMIN)})
    version_id = activate_model_dir(sessions, tfidf_meta_model_dir, name="alices-model")
    with local_client(create_app(settings)) as client:
        me = _admin()
        assert client.post("/topics", json={"name": ALICE_TOPIC}, headers=me).status_code == 201
        for paper in day_ids[:3]:
            client.post(f"/papers/{paper}/label", json={"interest": 1}, headers=me)
        client.post(
            f"/papers/{day_ids[3]}/label",
            params={"topic": ALICE_TOPIC},
            json={"interest": 0},
            headers=me,
        )
        alice = client.post("/admin/readers", json={"name": "Alice"}, headers=me)
        assert alice.status_code == 201, alice.text
        assert alice.json()["took_existing_data"] is True
        assert alice.json()["topics"] == ["default", ALICE_TOPIC]
        assert alice.json()["labels"] == 4
        bob = client.post(
            "/admin/readers", json={"name": "bob", "email": "bob@example.org"}, headers=me
        )
        assert bob.status_code == 201 and bob.json()["took_existing_data"] is False
        yield {
            "client": client,
            "alice": alice.json()["token"],
            "bob": bob.json()["token"],
            "version_id": version_id,
            "day_ids": day_ids,
            "settings": settings,
        }


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_before_any_reader_the_service_answers_as_it_always_did(client, day_ids):
    """No token needed for reads, loopback writes taken: the single-reader install."""
    assert client.get("/topics").status_code == 200
    assert client.post(f"/papers/{day_ids[0]}/label", json={"interest": 1}).status_code == 200
    assert client.get("/me").json()["name"] == ""
    assert client.get("/admin/readers").json() == []


def test_the_first_reader_takes_the_data_and_each_reader_sees_only_their_own(lab):
    client, alice, bob = lab["client"], lab["alice"], lab["bob"]
    paper = lab["day_ids"][0]
    # Without a token nothing of a reader's is read; the admin token names no reader.
    anonymous = client.get("/topics")
    assert anonymous.status_code == 401 and "reader token" in anonymous.json()["detail"]
    admin = client.get("/topics", headers=_admin())
    assert admin.status_code == 403 and "admin token" in admin.json()["detail"]
    assert client.get("/topics", headers=_as("not-a-token")).status_code == 401

    assert [t["name"] for t in client.get("/topics", headers=_as(alice)).json()] == [
        "default",
        ALICE_TOPIC,
    ]
    assert [t["name"] for t in client.get("/topics", headers=_as(bob)).json()] == ["default"]
    assert client.get(f"/papers/{paper}", headers=_as(alice)).json()["label"] == 1
    assert client.get(f"/papers/{paper}", headers=_as(bob)).json()["label"] is None
    # Alice's day is ranked by her model; bob has none yet (409 names what to do).
    assert client.get("/recommendations", headers=_as(alice)).status_code == 200
    assert client.get("/recommendations", headers=_as(bob)).status_code == 409
    # The same topic name is each reader's own.
    assert client.post("/topics", json={"name": ALICE_TOPIC}, headers=_as(bob)).status_code == 201
    client.post(
        f"/papers/{paper}/label",
        params={"topic": ALICE_TOPIC},
        json={"interest": 1},
        headers=_as(bob),
    )
    alices = client.get("/labels.csv", params={"all_topics": True}, headers=_as(alice)).text
    bobs = client.get("/labels.csv", params={"all_topics": True}, headers=_as(bob)).text
    assert len(pd.read_csv(io.StringIO(alices))) == 4
    assert pd.read_csv(io.StringIO(bobs))[["topic", "interest"]].values.tolist() == [
        [ALICE_TOPIC, 1]
    ]
    # Papers and search are shared; the labels in them are the reader's.
    found = client.get("/search", params={"q": "learning"}, headers=_as(bob))
    assert found.status_code == 200
    assert client.get("/me", headers=_as(bob)).json()["email"] == "bob@example.org"


def test_a_cached_day_list_is_never_another_readers(lab):
    """The response cache keys a list by its reader: alice's list, rendered first, is not what
    bob gets for the same URL."""
    client, alice, bob = lab["client"], lab["alice"], lab["bob"]
    assert client.get("/recommendations?all=true", headers=_as(alice)).status_code == 200
    assert client.get("/recommendations?all=true", headers=_as(bob)).status_code == 409


def test_a_new_token_ends_the_old_and_a_removed_reader_is_gone_with_their_data(lab, sessions):
    client, bob = lab["client"], lab["bob"]
    client.post(f"/papers/{lab['day_ids'][0]}/label", json={"interest": 1}, headers=_as(bob))
    renewed = client.post("/admin/readers/bob/token", headers=_admin())
    assert renewed.status_code == 200
    assert client.get("/me", headers=_as(bob)).status_code == 401
    new = renewed.json()["token"]
    assert client.get("/me", headers=_as(new)).json()["name"] == "bob"
    # Only the admin manages readers, never a reader's token.
    assert client.post("/admin/readers/alice/token", headers=_as(new)).status_code == 403
    assert client.get("/admin/readers", headers=_as(new)).status_code == 403
    assert [r["name"] for r in client.get("/admin/readers", headers=_admin()).json()] == [
        "alice",
        "bob",
    ]
    first = client.delete("/admin/readers/alice", params={"confirm": "alice"}, headers=_admin())
    assert first.status_code == 409 and "first reader" in first.json()["detail"]
    removed = client.delete("/admin/readers/bob", params={"confirm": "bob"}, headers=_admin())
    assert removed.status_code == 200, removed.text
    assert (removed.json()["topics"], removed.json()["labels"]) == (1, 1)
    assert "reader-bob" in removed.json()["labels_export"]
    assert client.get("/me", headers=_as(new)).status_code == 401
    with sessions() as session:
        assert session.scalar(select(Reader).where(Reader.name == "bob")) is None
        assert session.scalars(select(Topic.reader_id)).all() == [1, 1]


def test_a_reader_sets_where_their_own_digest_goes(lab):
    client, bob = lab["client"], lab["bob"]
    bad = client.patch("/me", json={"email": "not an address"}, headers=_as(bob))
    assert bad.status_code == 422 and "not an email address" in str(bad.json()["detail"])
    assert client.patch("/me", json={"email": None}, headers=_as(bob)).json()["email"] is None
    assert client.get("/me", headers=_as(lab["alice"])).json()["email"] is None


def test_reader_names_are_slugs_and_unique(lab):
    client = lab["client"]
    bad = client.post("/admin/readers", json={"name": "Two Words"}, headers=_admin())
    assert bad.status_code == 422 and "is not a slug" in str(bad.json()["detail"])
    again = client.post("/admin/readers", json={"name": "BOB"}, headers=_admin())
    assert again.status_code == 409


# Who may call each operation once readers are made, and a body for it. "public": anyone;
# "reader": a reader, on their own data only; "viewer": any reader or the admin (shared data);
# "shared": the admin only (a change every reader shares); "admin": the admin only.
ROUTES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/health"): ("public", None),
    ("POST", "/papers/{paper_id}/label"): ("reader", {"interest": 0}),
    ("DELETE", "/papers/{paper_id}/label"): ("reader", None),
    ("GET", "/labels.csv"): ("reader", None),
    ("POST", "/labels/import"): ("reader", "text"),
    ("GET", "/seed/author"): ("reader", None),
    ("GET", "/search"): ("reader", None),
    ("GET", "/papers/{paper_id}/similar"): ("reader", None),
    ("GET", "/recommendations"): ("reader", None),
    ("POST", "/score"): ("reader", {"abstract": "A study of transformers."}),
    ("GET", "/papers/{paper_id}"): ("reader", None),
    ("GET", "/models"): ("reader", None),
    ("POST", "/models/{version_id}/activate"): ("reader", None),
    ("POST", "/models/rollback"): ("reader", None),
    ("POST", "/retrain"): ("reader", None),
    ("GET", "/retrain"): ("reader", None),
    ("GET", "/status"): ("reader", None),
    ("POST", "/ingest"): ("shared", None),
    ("DELETE", "/ingest"): ("shared", None),
    ("GET", "/categories"): ("viewer", None),
    ("PUT", "/categories"): ("shared", {"categories": ["cs.LG"]}),
    ("GET", "/onboarding/next"): ("reader", None),
    ("POST", "/onboarding/answers"): ("reader", "answers"),
    ("GET", "/topics"): ("reader", None),
    ("POST", "/topics"): ("reader", {"name": "bobs-own"}),
    ("PATCH", "/topics/{name}"): ("reader", {"name": "taken-over"}),
    ("DELETE", "/topics/{name}"): ("reader", None),
    ("GET", "/admin/readers"): ("admin", None),
    ("POST", "/admin/readers"): ("admin", {"name": "mallory"}),
    ("POST", "/admin/readers/{name}/token"): ("admin", None),
    ("DELETE", "/admin/readers/{name}"): ("admin", None),
    ("GET", "/me"): ("reader", None),
    ("PATCH", "/me"): ("reader", {"email": "bob@example.net"}),
    ("GET", "/feed.atom"): ("reader", None),
}
REQUIRED_QUERY = {"name": "Hinton", "q": "learning", "date": "2025-03-19", "confirm": "x"}


def _alices_data(sessions) -> dict[str, Any]:
    """Everything of alice's a request could change."""
    with sessions() as session:
        alice = session.scalars(select(Reader).where(Reader.name == "alice")).one()
        topics = session.scalars(select(Topic).where(Topic.reader_id == alice.id)).all()
        ids = [t.id for t in topics]
        return {
            "reader": (alice.name, alice.email, alice.token_hash),
            "topics": sorted((t.id, t.name, t.position) for t in topics),
            "labels": sorted(
                (row.topic_id, row.paper_id, row.interest, row.updated_at)
                for row in session.scalars(select(Label).where(Label.topic_id.in_(ids)))
            ),
            "skips": sorted(
                (row.topic_id, row.paper_id)
                for row in session.scalars(
                    select(OnboardingSkip).where(OnboardingSkip.topic_id.in_(ids))
                )
            ),
            "models": sorted(
                (v.id, v.name, v.is_active, v.activated_at)
                for v in session.scalars(select(ModelVersion).where(ModelVersion.topic_id.in_(ids)))
            ),
        }


def _request(client, method: str, path: str, operation: dict, body: Any, lab, headers) -> Any:
    """One call of the operation aimed at alice's things."""
    paper = lab["day_ids"][0]
    url = path.format(
        paper_id=paper,
        version_id=lab["version_id"],
        name="alice" if path.startswith("/admin/readers") else ALICE_TOPIC,
    )
    params = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        if parameter["name"] == "topic":
            params["topic"] = ALICE_TOPIC
        elif parameter["name"] == "confirm":
            params["confirm"] = "alice" if path.startswith("/admin/readers") else ALICE_TOPIC
        elif parameter.get("required"):
            params[parameter["name"]] = REQUIRED_QUERY[parameter["name"]]
    kwargs: dict[str, Any] = {"params": params, "headers": dict(headers)}
    if body == "text":
        kwargs["content"] = paper
        kwargs["headers"]["Content-Type"] = "text/plain"
    elif body == "answers":
        kwargs["json"] = [{"paper_id": paper, "interest": 0}]
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, url, **kwargs)


def test_every_route_keeps_each_reader_to_their_own_data(lab, sessions):
    client = lab["client"]
    schema = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == set(ROUTES), "classify every route in ROUTES"
    before = _alices_data(sessions)
    bob = _as(lab["bob"])
    for (method, path), (kind, body) in ROUTES.items():
        operation = operations[(method, path)]
        where = f"{method} {path}"
        anonymous = _request(client, method, path, operation, body, lab, {})
        if kind != "public":
            assert anonymous.status_code == 401, f"{where} without a token: {anonymous.text}"
        answer = _request(client, method, path, operation, body, lab, bob)
        if kind in ("admin", "shared"):
            assert answer.status_code == 403, f"{where} with bob's token: {answer.text}"
        elif kind == "viewer":
            assert answer.status_code == 200, f"{where} with bob's token: {answer.text}"
        elif kind == "reader":
            takes_topic = any(p["name"] == "topic" for p in operation.get("parameters", []))
            if takes_topic or "{name}" in path:
                # Alice's topic is one bob has not: the same 404 as a topic that never was.
                assert answer.status_code == 404, f"{where} at alice's topic: {answer.text}"
                assert f"no topic {ALICE_TOPIC!r}" in answer.json()["detail"], where
            assert ALICE_TOPIC not in answer.text.replace(f"no topic {ALICE_TOPIC!r}", "")
            assert "alice" not in answer.text.replace(ALICE_TOPIC, ""), where
        assert answer.status_code < 500, f"{where}: {answer.text}"
    assert _alices_data(sessions) == before


def test_a_readers_feed_url_needs_no_token_and_a_new_token_ends_it(lab):
    client, alice = lab["client"], lab["alice"]
    url = client.get("/me", headers=_as(alice)).json()["feed_url"]
    assert url.startswith("/feed.atom?reader=alice&key=")
    feed = client.get(url)  # a feed reader: no token, no cookie
    assert feed.status_code == 200 and feed.text.startswith("<?xml")
    assert client.get(url.replace("reader=alice", "reader=bob")).status_code == 403
    assert client.get(url[:-4] + "0000").status_code == 403
    client.post("/admin/readers/alice/token", headers=_admin())
    assert client.get(url).status_code == 403


def test_without_an_api_token_loopback_is_no_admin_once_readers_are_made(client):
    """Every reader may be on this machine: the admin's routes then need a token (the review
    of issue 20 took another reader's token over from loopback)."""
    made = client.post("/admin/readers", json={"name": "alice"})  # loopback, no token: admin
    assert made.status_code == 201
    assert client.post("/admin/readers", json={"name": "bob"}).status_code == 403
    refused = client.post("/admin/readers/alice/token")
    assert refused.status_code == 403 and "ARXIV_RECO_API_TOKEN" in refused.json()["detail"]


def test_the_pages_cookie_wins_over_a_token_an_older_page_kept(lab):
    client, alice, bob = lab["client"], lab["alice"], lab["bob"]
    paper = lab["day_ids"][5]
    client.cookies.set("arxiv_reco_reader", bob)
    saved = client.post(f"/papers/{paper}/label", json={"interest": 1}, headers=_as(alice))
    assert saved.status_code == 200
    client.cookies.clear()
    assert client.get(f"/papers/{paper}", headers=_as(bob)).json()["label"] == 1
    assert client.get(f"/papers/{paper}", headers=_as(alice)).json()["label"] is None


def test_a_readers_digest_failure_is_theirs_and_health_names_nobody(lab, sessions):
    from app.digest.state import DigestState, save_state

    client, settings = lab["client"], lab["settings"]
    settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "digest_to": ["x@y.org"]})
    client.app.state.services.settings = settings  # type: ignore[attr-defined]
    failed = DigestState(last_error="550 mailbox of alice@example.org is full")
    save_state(settings, failed, 1)
    alices = client.get("/status", headers=_as(lab["alice"])).json()["warnings"]
    bobs = client.get("/status", headers=_as(lab["bob"])).json()["warnings"]
    health = client.get("/health").json()["problems"]
    assert any("alice@example.org" in w for w in alices)
    assert not any("digest" in w for w in bobs)
    assert "1 reader's daily digest could not be sent; each reader's /status says why" in health
    assert not any("alice@example.org" in p for p in health)
