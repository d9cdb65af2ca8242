"""Why this paper: each reason names something in the paper, or a paper the reader liked."""

from __future__ import annotations

import datetime as dt

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.jobs.retrain import retrain
from app.jobs.scheduler import DailyJob
from app.store.labels import import_labels_csv, set_label
from tests.conftest import LABELS_CSV
from tests.factories import SIGNAL_AUTHOR, activate_model_dir, with_metadata
from training.inference.explain import comment_facts, plain_term, tfidf_reasons
from training.inference.layout import load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor

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
                assert all(word.lower() in text for word in reason.text.split()), reason
                assert plain_term(reason.text.lower()), reason
            elif reason.kind == "author":
                assert reason.text in paper.authors
            else:
                assert (reason.kind, reason.text) in comment_facts(paper.comment), reason
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
        w.split()[0].lower() in (first["title"] + " " + first["abstract"]).lower() for w in words
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
    assert detail["reasons"] == [f"like your ✓ paper “{liked['title']}”"]


def test_comment_words_are_said_as_what_they_stand_for():
    assert comment_facts("Accepted to ACL 2025 main. Code: https://github.com/x/y") == [
        ("link", "code on GitHub"),
        ("venue", "accepted at ACL 2025"),
    ]
    assert comment_facts("Project page: https://a.github.io/b; 18 pages, 5 figures") == [
        ("link", "project page")
    ]
    assert comment_facts("data: https://huggingface.co/datasets/a/b") == [
        ("link", "dataset on Hugging Face")
    ]
    assert comment_facts("NeurIPS 2024 Workshop on X") == [("venue", "at NeurIPS 2024")]
    assert comment_facts("18 pages, 5 figures") == []


def test_stop_word_phrases_and_numbers_are_no_reasons():
    assert [
        t for t in ("to the", "how", "in the", "18", "network", "of language") if plain_term(t)
    ] == [
        "network",
        "of language",
    ]


def test_a_models_reasons_for_a_paper_are_worked_out_once(sessions, settings, holder, monkeypatch):
    import app.serving.reasons as reasons_module
    from app.store.schema import Paper

    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    retrain(sessions, settings)
    with sessions() as session:
        papers = list(session.query(Paper).limit(20))
        first = reasons_module.reasons_for(session, holder.get(), papers)
        calls = []
        real = reasons_module.tfidf_reasons
        monkeypatch.setattr(
            reasons_module, "tfidf_reasons", lambda *a, **k: calls.append(a) or real(*a, **k)
        )
        again = reasons_module.reasons_for(session, holder.get(), papers)
    assert again == first and calls == []
    retrain(sessions, settings)  # a new model explains afresh
    with sessions() as session:
        reasons_module.reasons_for(session, holder.get(), papers[:3])
    assert len(calls) == 1
