"""A short run of bench/fuzz.py: schemathesis against the app from its own OpenAPI schema, with a
model and a day of papers. The bench runs the long one (bench/README.md)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.jobs.ingest import ingest_day
from app.main import create_app
from bench.fuzz import TOKEN, run_fuzz
from tests.api.conftest import WEDNESDAY
from tests.factories import activate_model_dir


@pytest.mark.sqlite_only  # the schema and the routes are the database's business elsewhere
def test_every_operation_answers_as_its_schema_declares(
    settings, sessions, holder, tfidf_meta_model_dir
):
    activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-meta")
    assert ingest_day(sessions, WEDNESDAY, settings, model=holder.get).status == "success"
    app = create_app(settings.model_copy(update={"api_token": SecretStr(TOKEN)}))

    report = run_fuzz(app, max_examples=4)

    assert not report.failures, "\n".join(map(str, report.failures))
    assert report.server_errors == report.errors == 0
    operations = {"POST /score", "GET /papers/{paper_id}", "POST /papers/{paper_id}/label"}
    assert operations <= set(report.cases_by_operation)
    assert report.cases > 300
