"""The service's labels as training data: one layout, one frame, one data hash."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from app.cli import main
from app.core.db import Database, session_scope
from app.store.labels import (
    export_labels_csv,
    from_spreadsheet_safe,
    import_labels_csv,
    load_labels,
    set_label,
    spreadsheet_safe,
)
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper
from tests.conftest import LABELS_CSV
from tests.factories import paper_row, with_metadata, write_labels_csv
from training.inference.layout import DataError, data_hash, load_labelled_csv, paper_inputs


@pytest.fixture(scope="module")
def sample_rows() -> list[dict[str, str]]:
    with LABELS_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_same_labels_hash_the_same_from_a_csv_and_from_the_database(
    sessions, tmp_path: Path
) -> None:
    csv_frame = with_metadata(load_labelled_csv(LABELS_CSV))
    path = write_labels_csv(csv_frame, tmp_path / "labels.csv")
    from_csv = load_labelled_csv(path)
    with session_scope(sessions) as session:
        import_labels_csv(session, path)
    with sessions() as session:
        from_db = load_labels(session)
    assert data_hash(from_db) == data_hash(from_csv)
    # And the export is that same file again, metadata included.
    exported = tmp_path / "exported.csv"
    with sessions() as session:
        assert export_labels_csv(session, exported) == 300
    assert data_hash(load_labelled_csv(exported)) == data_hash(from_csv)


def test_labels_from_the_service_database(sessions, sample_rows) -> None:
    with session_scope(sessions) as session:
        for index, row in enumerate(sample_rows[:30]):
            day = dt.date(2025, 3, 18) + dt.timedelta(days=index // 10)
            session.add(
                Paper(
                    id=row["paper_id"],
                    title=row["title"],
                    abstract=row["abstract"],
                    categories=[c.strip() for c in row["categories"].split(",")],
                    primary_category=row["categories"].split(",")[0],
                    submitted_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc),
                    submitted_on=day,
                    authors=[f"Author {index}", "Common Author"],
                    comment="12 pages" if index % 2 else None,
                )
            )
            if index % 3:  # every third paper is unlabelled and must not appear
                session.add(Label(paper_id=row["paper_id"], interest=int(index % 5 == 1)))

    with sessions() as session:
        frame = load_labels(session)

    assert len(frame) == 20
    first = frame.iloc[0]
    source = next(row for row in sample_rows if row["paper_id"] == first["paper_id"])
    assert first["categories"] == ", ".join(c.strip() for c in source["categories"].split(","))
    assert first["submission_date"] == pd.Timestamp("2025-03-18", tz="UTC")
    assert set(frame["interest"]) == {0, 1}
    assert list(frame.columns[:2]) == ["line", "paper_id"]
    assert first["authors"] == f"Author {sample_rows.index(source)}; Common Author"
    inputs = {p.authors[0]: p for p in paper_inputs(frame)}
    assert inputs["Author 1"].comment == "12 pages" and inputs["Author 2"].comment is None
    assert inputs["Author 1"].authors == ("Author 1", "Common Author")


def test_database_labels_checked_too(sessions, sample_rows) -> None:
    with session_scope(sessions) as session:
        row = sample_rows[0]
        session.add(
            Paper(
                id=row["paper_id"],
                title=row["title"],
                abstract=row["abstract"],
                submitted_at=dt.datetime(2025, 3, 18, tzinfo=dt.timezone.utc),
                submitted_on=dt.date(2025, 3, 18),
            )
        )
        session.add(Label(paper_id=row["paper_id"], interest=1))
    with (
        sessions() as session,
        pytest.raises(
            DataError, match=r"database labels: only one class: all 1 rows have interest=1"
        ),
    ):
        load_labels(session)


def test_an_import_never_silently_overwrites_a_label_given_later(sessions, tmp_path: Path):
    """The file is older than a label given on the page since: the page's label stays and the
    report names it; --prefer-file takes the file's; a row stamped later than the page wins."""
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    first, second = pd.read_csv(LABELS_CSV)["paper_id"].astype(str).iloc[:2]
    with session_scope(sessions) as session:
        original = {
            p: session.get_one(Label, (DEFAULT_TOPIC_ID, p)).interest for p in (first, second)
        }
        for paper_id in (first, second):
            set_label(session, paper_id=paper_id, interest=1 - original[paper_id], source="web")
    with session_scope(sessions) as session:
        report = import_labels_csv(session, LABELS_CSV)
    assert report.kept_stored == [first, second] and report.changed_labels == 0
    conflict = report.conflicts[0]
    assert (conflict.stored_source, conflict.stored, conflict.file) == (
        "web",
        1 - original[first],
        original[first],
    )
    with sessions() as session:
        assert session.get_one(Label, (DEFAULT_TOPIC_ID, first)).interest == 1 - original[first]

    # A row stamped after the page's label wins without being asked.
    frame = load_labelled_csv(LABELS_CSV).iloc[:1].copy()
    frame["labelled_at"] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1)
    stamped = tmp_path / "stamped.csv"
    write_labels_csv(frame, stamped)
    stamped_frame = pd.read_csv(stamped)
    stamped_frame["labelled_at"] = frame["labelled_at"].dt.strftime("%Y-%m-%dT%H:%M:%S%z").iloc[0]
    stamped_frame.to_csv(stamped, index=False)
    with session_scope(sessions) as session:
        report = import_labels_csv(session, stamped)
    assert [c.kept for c in report.conflicts] == ["file"] and report.changed_labels == 1
    with sessions() as session:
        assert session.get_one(Label, (DEFAULT_TOPIC_ID, first)).interest == original[first]

    with session_scope(sessions) as session:
        report = import_labels_csv(session, LABELS_CSV, prefer_file=True)
    assert [c.paper_id for c in report.conflicts] == [second]
    assert report.conflicts[0].kept == "file"
    with sessions() as session:
        assert session.get_one(Label, (DEFAULT_TOPIC_ID, second)).interest == original[second]


def test_the_cli_lists_conflicts_by_paper_id(sessions, settings, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    assert main(["labels", "import", str(LABELS_CSV)]) == 0
    paper_id = str(pd.read_csv(LABELS_CSV)["paper_id"].iloc[0])
    with session_scope(sessions) as session:
        label = session.get_one(Label, (DEFAULT_TOPIC_ID, paper_id))
        set_label(session, paper_id=paper_id, interest=1 - label.interest, source="web")
    capsys.readouterr()
    assert main(["labels", "import", str(LABELS_CSV)]) == 0
    kept = "1 labels given later than the file's were kept (--prefer-file takes the file's)"
    assert f"{kept}: {paper_id}" in capsys.readouterr().out
    assert main(["labels", "import", "--prefer-file", str(LABELS_CSV)]) == 0
    assert f"1 stored labels were replaced by the file's: {paper_id}" in capsys.readouterr().out


def test_imported_paper_ids_must_be_arxiv_ids_and_versions_are_dropped(sessions, tmp_path: Path):
    frame = load_labelled_csv(LABELS_CSV).iloc[:20].copy()
    first = frame["paper_id"].iloc[0]
    frame.loc[frame.index[0], "paper_id"] = f"{first}v2"
    path = write_labels_csv(frame, tmp_path / "versioned.csv")
    with session_scope(sessions) as session:
        report = import_labels_csv(session, path)
    assert report.new_labels == 20
    with sessions() as session:
        assert (
            session.get(Label, (DEFAULT_TOPIC_ID, first)) is not None
            and session.get(Label, (DEFAULT_TOPIC_ID, f"{first}v2")) is None
        )

    frame.loc[frame.index[1], "paper_id"] = "a/../../retrain?"
    with pytest.raises(DataError, match=r"not arXiv ids .*line 3 \('a/\.\./\.\./retrain\?'\)"):
        import_labels_csv(sessions(), write_labels_csv(frame, tmp_path / "bad.csv"))
    twice = load_labelled_csv(LABELS_CSV).iloc[:3].copy()
    twice.loc[twice.index[1], "paper_id"] = f"{twice['paper_id'].iloc[0]}v3"
    with pytest.raises(DataError, match="the same paper in several versions"):
        import_labels_csv(sessions(), write_labels_csv(twice, tmp_path / "twice.csv"))


# What an arXiv author may write into a title, an abstract, a name or a comment (issue 17).
FORMULA_LIKE = {
    "2501.00001": {"title": "=cmd|' /C calc'!A0", "comment": "=cmd|' /C calc'!A0"},
    "2501.00002": {"title": "'=already quoted", "abstract": "-1 is the answer."},
    "2501.00003": {"authors": ["@handle", "Common Author"], "comment": "+49 30 1234"},
    "2501.00004": {"abstract": "@SUM(1+1) in an abstract.", "title": "A-OK: plain"},
}


def test_formula_like_cells_are_exported_spreadsheet_safe_and_imported_back_unchanged(
    client, sessions, tmp_path: Path
) -> None:
    """A spreadsheet opening the export runs a cell starting with = + - @ (OWASP's CSV
    injection): such cells are exported behind a quote, and the import takes it off again."""
    with session_scope(sessions) as session:
        for index, (paper_id, fields) in enumerate(FORMULA_LIKE.items()):
            session.add(paper_row(paper_id, **fields))
            set_label(session, paper_id=paper_id, interest=index % 2, source="web")
    exported = tmp_path / "labels.csv"
    with sessions() as session:
        assert export_labels_csv(session, exported) == 4
    assert client.get("/labels.csv").text == exported.read_text(encoding="utf-8")
    with exported.open(newline="", encoding="utf-8") as handle:
        cells = {row["paper_id"]: row for row in csv.DictReader(handle)}
    assert cells["2501.00001"]["title"] == cells["2501.00001"]["comment"] == ("'=cmd|' /C calc'!A0")
    assert cells["2501.00002"]["title"] == "''=already quoted"
    assert cells["2501.00002"]["abstract"] == "'-1 is the answer."
    assert cells["2501.00003"]["authors"] == "'@handle; Common Author"
    assert cells["2501.00003"]["comment"] == "'+49 30 1234"
    assert cells["2501.00004"]["abstract"] == "'@SUM(1+1) in an abstract."
    assert cells["2501.00004"]["title"] == "A-OK: plain"
    for row in cells.values():
        assert not row["title"].startswith(("=", "+", "-", "@", "\t", "\r"))

    # Imported into another database, every cell is as it was, and exports the same again.
    with Database(f"sqlite:///{tmp_path / 'other.db'}") as other:
        with session_scope(other.sessions) as session:
            assert import_labels_csv(session, exported).new_papers == 4
        with other.sessions() as session:
            for paper_id, fields in FORMULA_LIKE.items():
                paper = session.get_one(Paper, paper_id)
                for name, value in fields.items():
                    assert getattr(paper, name) == value, (paper_id, name)
            again = tmp_path / "again.csv"
            export_labels_csv(session, again)
    assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("'quoted", "'quoted"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_a_spreadsheet_safe_cell_reads_back_exactly(cell, safe):
    assert spreadsheet_safe(cell) == safe and from_spreadsheet_safe(safe) == cell
