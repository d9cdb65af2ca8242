"""Imports through the stand-in and a real database: what is fetched, stored, labelled and
skipped, and that a failure stores nothing."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.db import session_scope
from app.jobs.arxiv_source import ID_BATCH, ArxivClient, FetchError
from app.jobs.ingest import ingest_day
from app.label_import.formats import read_text
from app.label_import.service import (
    NotOnArxiv,
    author_candidates,
    fetch_and_store,
    import_file,
    import_references,
)
from app.store.labels import set_label
from app.store.schema import Label, Paper
from tests.api.conftest import WEDNESDAY
from tests.label_import.conftest import IMPORTS, OLD_STYLE, id_lists
from training.inference.layout import DataError


def _labels(sessions) -> dict[str, tuple[int, str]]:
    with sessions() as session:
        return {
            label.paper_id: (label.interest, label.source)
            for label in session.scalars(select(Label))
        }


def _counts(sessions) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count(Paper.id))) or 0,
            session.scalar(select(func.count(Label.paper_id))) or 0,
        )


def _import(sessions, settings, path: Path, **options):
    with session_scope(sessions) as session:
        return import_file(session, path, client=ArxivClient(settings), **options)


def test_ids_and_urls_are_fetched_in_one_request_and_stored_as_ingestion_stores_them(
    sessions, settings, standin
):
    report = _import(sessions, settings, IMPORTS / "ids.txt")

    ids = ["2503.13531", "2503.13576", "2503.13587", "2503.13617", "2503.13646", "2503.13652"]
    assert report.fetched == [*ids, OLD_STYLE]
    assert (report.rows, report.new_labels, report.already_stored) == (8, 7, [])
    assert [(s.where, s.what, s.reason) for s in report.skipped] == [
        ("line 10", OLD_STYLE, "named again (first on line 9)")
    ]
    assert id_lists(standin) == [[*ids, OLD_STYLE]]  # one batched look-up, versions dropped
    assert _labels(sessions) == {paper_id: (1, "import") for paper_id in [*ids, OLD_STYLE]}
    with sessions() as session:
        old = session.get_one(Paper, OLD_STYLE)
        assert (old.version, old.submitted_on, old.primary_category) == (
            1,
            dt.date(2006, 1, 2),
            "astro-ph",
        )
    # Ingestion finds the papers it lists stored as it stores them: nothing to update.
    listed = {e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories)}
    assert listed & set(ids)
    ingested = ingest_day(sessions, WEDNESDAY, settings)
    assert (ingested.new, ingested.updated) == (len(listed - set(ids)), 0)


def test_stored_papers_are_not_fetched_again(sessions, settings, standin, tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("2503.13531\n2503.13576\n")
    _import(sessions, settings, first)
    report = _import(sessions, settings, IMPORTS / "ids.txt")
    assert report.already_stored == ["2503.13531", "2503.13576"]
    assert (len(report.fetched), report.new_labels, report.unchanged) == (5, 5, 2)
    assert id_lists(standin)[-1] == report.fetched and len(standin.requests) == 2


def test_ids_are_looked_up_a_hundred_a_request(sessions, settings, standin):
    every = sorted(standin.catalog.entries)
    assert len(every) > ID_BATCH
    with session_scope(sessions) as session:
        report = import_references(
            session,
            read_text("\n".join(every), name="many.txt"),
            client=ArxivClient(settings),
        )
    assert len(report.fetched) == len(every)
    asked = id_lists(standin)
    assert {len(ids) for ids in asked} <= {ID_BATCH, len(every) - ID_BATCH}
    assert {i for ids in asked for i in ids} == set(every)


def test_an_id_arxiv_does_not_know_is_skipped_with_that_reason(sessions, settings, tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("2503.13531\n9999.99999\n")
    report = _import(sessions, settings, path)
    assert report.fetched == ["2503.13531"]
    assert [(s.where, s.what, s.reason) for s in report.skipped] == [
        ("line 2", "9999.99999", "arXiv does not know this id")
    ]
    assert (
        "1 skipped:" in report.lines()
        and "  line 2: 9999.99999: arXiv does not know this id" in report.lines()
    )


def test_an_id_arxiv_refuses_is_found_by_halving_the_request(sessions, settings, standin, tmp_path):
    # A spreadsheet wrote 2503.13500 as 2503.135: arXiv answers 400 for the whole request.
    path = tmp_path / "sheet.csv"
    path.write_text("paper_id,interest\n2503.13531,1\n2503.135,0\n2503.16048,1\n")
    report = _import(sessions, settings, path)
    assert sorted(report.fetched) == ["2503.13531", "2503.16048"]
    assert [(s.what, s.reason) for s in report.skipped] == [
        ("2503.135", "arXiv refuses the id as malformed (HTTP 400)")
    ]
    assert _labels(sessions) == {"2503.13531": (1, "csv"), "2503.16048": (1, "csv")}


def test_a_minimal_csv_keeps_its_interest_and_label_times(sessions, settings):
    report = _import(sessions, settings, IMPORTS / "minimal.csv")
    assert (report.format, report.new_labels, len(report.fetched)) == ("csv", 3, 3)
    assert _labels(sessions) == {
        "2503.13531": (1, "csv"),
        "2503.13576": (0, "csv"),
        "2503.16048": (1, "csv"),
    }
    assert report.lines()[0] == (
        "3 rows (labelled CSV): 3 new labels, 0 changed, 0 unchanged; 3 fetched from arXiv"
    )


@pytest.mark.parametrize(
    ("name", "fetched", "skipped"),
    [
        (
            "papers.bib",
            7,
            [
                (
                    "line 65",
                    "lecun1998gradient “Gradient-based learning applied to document recognition”",
                ),
                ("line 76", "dupont2019hal “Un article déposé sur HAL”"),
            ],
        ),
        ("zotero.json", 5, [("item 6", "“Deep Learning”")]),
        ("zotero.ris", 4, [("line 41", "vaswani2017attention “Attention is all you need”")]),
    ],
)
def test_bibtex_and_zotero_exports_label_their_arxiv_papers_and_list_the_rest(
    sessions, settings, name, fetched, skipped
):
    report = _import(sessions, settings, IMPORTS / name)
    assert (len(report.fetched), report.new_labels) == (fetched, fetched)
    assert [(s.where, s.what) for s in report.skipped] == skipped
    assert set(_labels(sessions).values()) == {(1, "import")}


def test_an_unreachable_arxiv_stores_nothing_and_says_so_in_one_line(sessions, settings):
    ingest_day(sessions, WEDNESDAY, settings)  # some papers are stored: their labels wait too
    before = _counts(sessions)
    offline = settings.model_copy(update={"arxiv_api_url": "http://127.0.0.1:9/api/query"})
    with pytest.raises(FetchError) as failure:
        _import(sessions, offline, IMPORTS / "ids.txt")
    assert str(failure.value).startswith("arXiv is unreachable at http://127.0.0.1:9/api/query")
    assert "\n" not in str(failure.value)
    assert _counts(sessions) == (before[0], 0)


def test_a_failing_arxiv_stores_nothing(sessions, settings, standin):
    standin.inject(*["503"] * (settings.retries + 1))
    with pytest.raises(FetchError, match="HTTP 503"):
        _import(sessions, settings, IMPORTS / "papers.bib")
    assert _counts(sessions) == (0, 0)


def test_a_bad_line_stores_nothing(sessions, settings, standin, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("2503.13531\n2503.13576\nfoo\n")
    with pytest.raises(
        DataError, match=r"labels\.txt line 3: 'foo' is not an arXiv id or arXiv URL"
    ):
        _import(sessions, settings, path)
    assert _counts(sessions) == (0, 0) and standin.requests == []


def test_a_label_given_later_than_the_file_wins_unless_the_file_is_preferred(
    sessions, settings, tmp_path
):
    path = tmp_path / "ids.txt"
    shutil.copy(IMPORTS / "ids.txt", path)
    old = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    os.utime(path, (old, old))
    _import(sessions, settings, path)
    with session_scope(sessions) as session:
        set_label(session, paper_id="2503.13531", interest=0, source="web")
    report = _import(sessions, settings, path)
    assert report.kept_stored == ["2503.13531"] and report.unchanged == 6
    assert report.conflicts[0].stored_source == "web"
    assert _labels(sessions)["2503.13531"] == (0, "web")
    report = _import(sessions, settings, path, prefer_file=True)
    assert [(c.paper_id, c.kept) for c in report.conflicts] == [("2503.13531", "file")]
    assert _labels(sessions)["2503.13531"] == (1, "import")


def test_a_full_csv_is_imported_as_before(sessions, settings, standin):
    from tests.conftest import LABELS_CSV

    report = _import(sessions, settings, LABELS_CSV)
    assert (report.format, report.rows, report.new_papers, report.new_labels) == (
        "csv",
        300,
        300,
        300,
    )
    assert report.fetched == [] and standin.requests == []
    assert report.lines()[0] == (
        "300 rows (labelled CSV): 300 new labels, 0 changed, 0 unchanged; "
        "300 papers added from the file"
    )


def test_labelling_an_unstored_paper_fetches_it(sessions, settings):
    client = ArxivClient(settings)
    with session_scope(sessions) as session:
        paper = fetch_and_store(session, client=client, paper_id="2503.16048v1")
        assert (paper.id, paper.version) == ("2503.16048", 1)
    with pytest.raises(NotOnArxiv, match="arXiv does not know paper 9999.99999"):
        fetch_and_store(sessions(), client=client, paper_id="9999.99999")


def test_an_author_s_papers_newest_first_with_what_is_stored(sessions, settings, standin):
    theirs = sorted(
        (e for e in standin.catalog.entries.values() if "Jiachen Li" in e.authors),
        key=lambda e: e.published,
        reverse=True,
    )
    client = ArxivClient(settings)
    with session_scope(sessions) as session:
        fetch_and_store(session, client=client, paper_id=theirs[1].id)
        set_label(session, paper_id=theirs[1].id, interest=1, source="web")
    with sessions() as session:
        found = author_candidates(session, client=client, name="li JIACHEN")
    assert [c.paper.id for c in found] == [e.id for e in theirs]
    assert [(c.stored, c.label) for c in found] == [(False, None), (True, 1), (False, None)]
    with pytest.raises(ValueError, match="an author's name needs letters"):
        author_candidates(sessions(), client=client, name='" "')
