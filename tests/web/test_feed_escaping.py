"""The Atom feed is XML: the text of titles and abstracts is escaped (autoescape covers .atom)."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.store.schema import Paper
from tests.factories import activate_model_dir

ATOM = "{http://www.w3.org/2005/Atom}"


def test_markup_and_ampersands_in_papers_are_text_in_the_feed(
    client, sessions, settings, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir, name="tiny-feed")
    ingest_day(sessions, dt.date(2025, 3, 19), settings, model=holder.get)
    paper_id = client.get("/recommendations", params={"date": "2025-03-19"}).json()["papers"][0][
        "id"
    ]
    title = "Q&A for <b>LLMs</b>"
    abstract = "p<0.01 & <script>alert(1)</script>"
    with session_scope(sessions) as session:
        paper = session.get(Paper, paper_id)
        assert paper is not None
        paper.title, paper.abstract = title, abstract
    response = client.get("/feed.atom")
    assert response.status_code == 200 and "<script>" not in response.text
    feed = ElementTree.fromstring(response.content)  # well-formed XML, or this raises
    entry = next(e for e in feed.iter(f"{ATOM}entry") if paper_id in e.findtext(f"{ATOM}id", ""))
    assert entry.findtext(f"{ATOM}title") == title
    assert entry.findtext(f"{ATOM}summary", "").endswith(abstract)
