"""Why this paper: each reason names something in the paper, or a paper the reader liked."""

from __future__ import annotations

import datetime as dt

from app.core.db import session_scope
from app.ingest.service import ingest_day
from app.labels import import_labels_csv, set_label
from app.retrain import retrain
from app.scheduler import DailyJob
from tests.conftest import LABELS_CSV
from tests.factories import SIGNAL_AUTHOR, activate_model_dir, with_metadata
from training.explain import tfidf_reasons
from training.layout import load_labelled_csv, paper_inputs
from training.predictor import load_predictor

WEDNESDAY = dt.date(2025, 3, 19)


def test_tfidf_reasons_name_terms_authors_and_comment_words_of_the_paper(tfidf_meta_model_dir):
    predictor = load_predictor(tfidf_meta_model_dir)
    frame = with_metadata(load_labelled_csv(LABELS_CSV))
    papers = paper_inputs(frame.iloc[:40])
    found = tfidf_reasons(predictor, papers, top=5)
    assert len(found) == 40 and all(len(reasons) <= 5 for reasons in found)
    kinds = set()
    for paper, reasons in zip(papers, found, strict=True):
        text = f"{paper.title} {paper.abstract}".lower()
        for reason in reasons:
            kinds.add(reason.kind)
            assert reason.weight > 0
            if reason.kind == "term":
                assert all(word in text for word in reason.text.split()), reason
            elif reason.kind == "author":
                assert reason.text in paper.authors
            else:
                assert reason.kind == "comment" and reason.text in (paper.comment or "").lower()
    assert {"term", "author"} <= kinds
    signal = [r for rs in found for r in rs if r.kind == "author"]
    assert any(r.text == SIGNAL_AUTHOR for r in signal)


def test_recommendations_and_papers_carry_their_reasons(client, sessions, settings, holder):
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    ingest_day(sessions, WEDNESDAY, settings)
    retrain(sessions, settings)
    DailyJob(sessions, settings, holder).rescore()
    listing = client.get(
        "/recommendations", params={"date": "2025-03-19", "explain": "true", "all": "true"}
    ).json()
    recommended = [p for p in listing["papers"] if p["recommended"]]
    assert recommended and all(1 <= len(p["reasons"]) <= 4 for p in recommended)
    assert all(p["reasons"] is None for p in listing["papers"] if not p["recommended"])
    first = recommended[0]
    words = [r.strip("“”") for r in first["reasons"] if r.startswith("“")]
    assert words and all(
        w.split()[0] in (first["title"] + " " + first["abstract"]).lower() for w in words
    )
    plain = client.get("/recommendations", params={"date": "2025-03-19"}).json()
    assert all(p["reasons"] is None for p in plain["papers"])
    detail = client.get(f"/papers/{first['id']}").json()
    assert detail["reasons"] == first["reasons"]
    page = client.get("/?date=2025-03-19").text
    assert page.count('class="why"') == len(recommended)


def test_an_encoder_model_is_explained_by_the_readers_similar_papers(
    client, sessions, settings, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    listing = client.get("/recommendations", params={"date": "2025-03-19"}).json()
    liked, other = listing["papers"][0], listing["papers"][1]
    with session_scope(sessions) as session:
        set_label(session, paper_id=liked["id"], interest=1, source="web")
    detail = client.get(f"/papers/{other['id']}").json()
    assert detail["reasons"] == [f"like “{liked['title']}”"]
