"""The page once readers are made (issue 20): a browser signs in with its reader's token, kept
in an HttpOnly, SameSite=Strict cookie; every page then shows that reader's topics and nothing of
another's, and the page's writes go through with the cookie, never from another site."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.api.deps import READER_COOKIE
from app.jobs.ingest import ingest_day
from app.main import create_app
from app.store.schema import Label, Topic
from tests.api.conftest import WEDNESDAY
from tests.factories import local_client

ADMIN = "the-admin-token-of-this-lab-0123456789"


@pytest.fixture
def lab(settings, sessions, standin):
    ingest_day(sessions, WEDNESDAY, settings)
    day_ids = sorted(e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories))
    settings = settings.model_copy(update={"api_token": SecretStr(ADMIN)})
    with local_client(create_app(settings), follow_redirects=False) as client:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        client.post("/topics", json={"name": "alices-secrets"}, headers=admin)
        alice = client.post("/admin/readers", json={"name": "alice"}, headers=admin).json()
        bob = client.post("/admin/readers", json={"name": "bob"}, headers=admin).json()
        yield client, alice["token"], bob["token"], day_ids


def test_a_page_without_a_token_signs_in_first_and_comes_back(lab):
    client, alice, _, _ = lab
    client.headers["Accept"] = "text/html"  # a browser: /search is the page, not the JSON
    sent = client.get("/search?q=learning")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login?next=%2Fsearch%3Fq%3Dlearning"
    form = client.get(sent.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    wrong = client.post("/login", data={"token": "guess", "next": "/search?q=learning"})
    assert wrong.status_code == 401 and "is not a reader" in wrong.text
    assert READER_COOKIE not in client.cookies
    signed = client.post("/login", data={"token": alice, "next": "/search?q=learning"})
    assert signed.status_code == 303 and signed.headers["location"] == "/search?q=learning"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = client.get("/search?q=learning")
    assert page.status_code == 200 and "alice" in page.text and "Sign out" in page.text
    out = client.post("/logout")
    assert out.status_code == 200 and "signed out" in out.text
    client.cookies.clear()  # the browser drops the cookie the answer expired
    assert client.get("/").status_code == 303


def test_each_reader_sees_their_own_topics_on_the_page(lab):
    client, alice, bob, _ = lab
    client.cookies.set(READER_COOKIE, alice)
    assert "alices-secrets" in client.get("/").text
    client.cookies.set(READER_COOKIE, bob)
    page = client.get("/")
    assert page.status_code == 200 and "alices-secrets" not in page.text
    # A day link of alice's topic (the digest's ?topic_id=) is a topic bob has not.
    with client.app.state.services.sessions() as session:  # type: ignore[attr-defined]
        secret = session.scalars(select(Topic.id).where(Topic.name == "alices-secrets")).one()
    other = client.get(f"/?topic_id={secret}")
    assert other.status_code == 200 and "alices-secrets" not in other.text
    assert "There is no topic" in other.text
    # Named, it is the same as a topic that never was: the name typed is all the page repeats.
    named = client.get("/?topic=alices-secrets").text
    assert "There is no topic &#39;alices-secrets&#39;; showing default." in named
    assert named.count("alices-secrets") == 1


def test_the_pages_writes_go_with_the_cookie_and_never_from_another_site(lab):
    client, _, bob, day_ids = lab
    client.cookies.set(READER_COOKIE, bob)
    paper = day_ids[0]
    saved = client.post(f"/papers/{paper}/label", json={"interest": 1})
    assert saved.status_code == 200
    forged = client.post(
        f"/papers/{paper}/label", json={"interest": 0}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    with client.app.state.services.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Label.interest)).all() == [1]
    # Nobody is signed in from another site's form, nor sent on to another site after.
    client.cookies.clear()
    elsewhere = client.post(
        "/login", data={"token": bob, "next": "/"}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    onward = client.post("/login", data={"token": bob, "next": "//evil.example/x"})
    assert onward.headers["location"] == "/"


def test_a_reader_sees_the_shared_categories_and_the_admin_changes_them(lab):
    client, _, bob, _ = lab
    client.cookies.set(READER_COOKIE, bob)
    page = client.get("/settings/categories")
    assert page.status_code == 200 and "admin" in page.text
    refused = client.put("/categories", json={"categories": ["cs.LG"]})
    assert refused.status_code == 403 and "admin token" in refused.json()["detail"]
