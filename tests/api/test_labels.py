from __future__ import annotations

import feedparser
import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.main import create_app
from app.store.labels import import_labels_csv
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper
from tests.api.conftest import WEDNESDAY
from tests.conftest import LABELS_CSV
from tests.factories import activate_model_dir, local_client, with_metadata, write_labels_csv
from training.inference.layout import DataError, load_labelled_csv


def _label(sessions, paper_id):
    with sessions() as session:
        label = session.get(Label, (DEFAULT_TOPIC_ID, paper_id))
        return None if label is None else (label.interest, label.source)


def test_a_label_is_stored_changed_and_cleared(client, sessions, day_ids):
    paper_id = day_ids[0]
    assert client.post(f"/papers/{paper_id}/label", json={"interest": 1}).json() == {
        "paper_id": paper_id,
        "interest": 1,
    }
    assert _label(sessions, paper_id) == (1, "web")
    client.post(f"/papers/{paper_id}v1/label", json={"interest": 0})
    assert _label(sessions, paper_id) == (0, "web")
    assert client.delete(f"/papers/{paper_id}/label").json()["interest"] is None
    assert _label(sessions, paper_id) is None
    assert client.get(f"/papers/{paper_id}").json()["label"] is None


@pytest.mark.parametrize(
    "body", [{"interest": 2}, {"interest": "yes"}, {}, {"interest": 1, "x": 0}]
)
def test_a_bad_label_is_422(client, day_ids, body):
    assert client.post(f"/papers/{day_ids[0]}/label", json=body).status_code == 422


def test_labelling_an_unknown_paper_is_404(client, day_ids):
    response = client.post("/papers/9999.99999/label", json={"interest": 1})
    assert response.status_code == 404 and "9999.99999" in response.json()["detail"]


def test_writes_need_the_token_when_one_is_set(settings, sessions, day_ids):
    guarded = settings.model_copy(update={"api_token": SecretStr("s3cret")})
    with local_client(create_app(guarded)) as client:
        url = f"/papers/{day_ids[0]}/label"
        refused = client.post(url, json={"interest": 1})
        assert refused.status_code == 401 and "Bearer" in refused.json()["detail"]
        wrong = client.post(url, json={"interest": 1}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.post(url, json={"interest": 1}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.post("/models/rollback").status_code == 401
        assert client.get(f"/papers/{day_ids[0]}").status_code == 200  # reads stay open


def test_cross_site_writes_are_refused(client, sessions, day_ids):
    url = f"/papers/{day_ids[0]}/label"
    evil = client.post(url, json={"interest": 1}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    fetch = client.post(url, json={"interest": 1}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch.status_code == 403
    assert _label(sessions, day_ids[0]) is None
    same = client.post(url, json={"interest": 1}, headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_import_then_export_gives_the_same_rows_and_a_second_import_changes_nothing(
    client, sessions, tmp_path
):
    with session_scope(sessions) as session:
        first = import_labels_csv(session, LABELS_CSV)
    assert (first.rows, first.new_labels, first.new_papers) == (300, 300, 300)
    exported = client.get("/labels.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    path = tmp_path / "exported.csv"
    path.write_text(exported.text)
    original = pd.read_csv(LABELS_CSV, dtype=str, keep_default_na=False)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    # The training columns as they were, then the metadata the models read (none in this file).
    assert back[list(original.columns)].equals(original)
    assert list(back.columns[6:]) == ["authors", "comment", "labelled_at"]
    assert not back["authors"].any() and not back["comment"].any()

    with session_scope(sessions) as session:
        again = import_labels_csv(session, LABELS_CSV)
    assert (again.new_labels, again.changed_labels, again.unchanged, again.new_papers) == (
        0,
        0,
        300,
        0,
    )
    assert client.get("/labels.csv").text == exported.text


def test_import_stores_authors_and_comment_of_new_papers_only(client, sessions, day_ids, tmp_path):
    with sessions() as session:
        ingested = session.get_one(Paper, day_ids[0])
        authors, comment = list(ingested.authors), ingested.comment
    frame = with_metadata(load_labelled_csv(LABELS_CSV)).iloc[:20].reset_index(drop=True)
    frame.loc[0, "paper_id"] = day_ids[0]  # a paper the database has: it keeps its metadata
    frame.loc[0, "authors"], frame.loc[0, "comment"] = "Not The Authors", "not the comment"
    with session_scope(sessions) as session:
        report = import_labels_csv(session, write_labels_csv(frame, tmp_path / "meta.csv"))
    assert (report.new_papers, report.new_labels) == (19, 20)
    with sessions() as session:
        kept = session.get_one(Paper, day_ids[0])
        assert (kept.authors, kept.comment) == (authors, comment)
        new = session.get_one(Paper, frame.loc[1, "paper_id"])
        assert new.authors == [a.strip() for a in frame.loc[1, "authors"].split(";")]
        assert new.comment == (frame.loc[1, "comment"] or None)
    # The export is the notebook's layout plus the metadata the models read.
    assert client.get("/labels.csv").text.splitlines()[0] == (
        "paper_id,title,abstract,categories,submission_date,interest,authors,comment,labelled_at"
    )


def test_a_malformed_file_is_rejected_whole(sessions, tmp_path):
    frame = pd.read_csv(LABELS_CSV, dtype=str, keep_default_na=False)
    frame.loc[5, "interest"] = "maybe"
    frame.loc[7, "abstract"] = ""
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"line 7 \('maybe'\)"), session_scope(sessions) as s:
        import_labels_csv(s, bad)
    with sessions() as session:
        assert session.scalar(select(func.count(Label.paper_id))) == 0
        assert session.scalar(select(func.count(Paper.id))) == 0


def test_feed_lists_the_recommended_papers_and_parses(
    client, sessions, settings, holder, tiny_model_dir, standin
):
    activate_model_dir(sessions, tiny_model_dir)
    ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    recommended = client.get("/recommendations", params={"date": "2025-03-19"}).json()["papers"]
    response = client.get("/feed.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.link for e in parsed.entries] == [p["abs_url"] for p in recommended]
    assert parsed.entries[0].title == recommended[0]["title"]
    assert parsed.feed.title.startswith("arxiv-reco")


def test_without_a_model_the_feed_is_valid_atom_that_says_what_to_do(client):
    response = client.get("/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries == []
    assert "No recommendations yet: no model is active yet" in parsed.feed.subtitle
