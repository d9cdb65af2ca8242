"""Re-scoring every stored day, a committed chunk at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, func, select

import app.serving.scoring as scoring
from app.jobs.ingest import ingest_day
from app.store.schema import Paper, Score
from tests.factories import activate_model_dir


def test_re_scoring_reads_and_scores_one_chunk_at_a_time(
    sessions, settings, holder, tfidf_meta_model_dir, monkeypatch
):
    for day in (dt.date(2025, 3, 19), dt.date(2025, 3, 20)):
        ingest_day(sessions, day, settings)
    activate_model_dir(sessions, tfidf_meta_model_dir)
    monkeypatch.setattr(scoring, "SCORE_COMMIT_CHUNK", 7)
    sizes: list[int] = []
    real = scoring.score_inputs
    monkeypatch.setattr(
        scoring,
        "score_inputs",
        lambda model, inputs, **k: sizes.append(len(inputs)) or real(model, inputs, **k),
    )
    statements: list[str] = []

    def seen(connection, cursor, statement, *rest):
        statements.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        total = scoring.score_pending(sessions, holder.get(), days=None)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # Which papers wait is asked once, not again for every chunk (on PostgreSQL each asking
    # hashed every score of the model: a re-scoring quadratic in the papers).
    assert sum("NOT (EXISTS" in statement for statement in statements) == 1
    with sessions() as session:
        papers = session.scalar(select(func.count()).select_from(Paper))
        scored = session.scalar(select(func.count()).select_from(Score))
    assert total == papers == scored and papers > 14
    assert max(sizes) == 7 and sum(sizes) == papers
    assert scoring.score_pending(sessions, holder.get(), days=None) == 0  # nothing left
