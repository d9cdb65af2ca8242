"""``arxiv-reco labels import`` of every format and ``arxiv-reco seed --author``."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.cli import main
from app.store.schema import Label
from tests.label_import.conftest import IMPORTS


@pytest.fixture
def env(monkeypatch, settings):
    for name, value in {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.resolved_database_url,
        "ARXIV_API_URL": settings.arxiv_api_url,
        "REQUEST_DELAY_SECONDS": "0",
        "RETRY_BACKOFF_SECONDS": "0.01",
        "PAGE_SIZE": "25",
    }.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name}", value)


def _labels(sessions) -> dict[str, int]:
    with sessions() as session:
        return {label.paper_id: label.interest for label in session.scalars(select(Label))}


def test_import_a_bibtex_file_prints_the_report(env, sessions, capsys):
    assert main(["labels", "import", str(IMPORTS / "papers.bib")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "9 entries (BibTeX): 7 new labels, 0 changed, 0 unchanged; 7 fetched from arXiv",
        "2 skipped:",
        "  line 65: lecun1998gradient “Gradient-based learning applied to document recognition”: "
        "no arXiv id (an eprint with archivePrefix = {arXiv}, an arxiv.org URL, a 10.48550/arXiv "
        "DOI or arXiv:ID in journal, note or howpublished)",
        "  line 76: dupont2019hal “Un article déposé sur HAL”: eprint = {hal-02123456} without "
        "archivePrefix = {arXiv}",
    ]
    assert len(_labels(sessions)) == 7


def test_the_format_can_be_forced(env, sessions, tmp_path, capsys):
    path = tmp_path / "mine.bib"  # a list of ids, whatever its name says
    path.write_text("2503.13531\nhttps://arxiv.org/abs/2503.16048v1\n")
    assert main(["labels", "import", "--format", "ids", str(path)]) == 0
    assert capsys.readouterr().out.startswith("2 arXiv ids: 2 new labels")
    with pytest.raises(SystemExit, match="nothing imported: .*mine.bib: no entries found"):
        main(["labels", "import", str(path)])


def test_a_malformed_file_names_the_line_and_stores_nothing(env, sessions, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("2503.13531\n\nfoo\n")
    with pytest.raises(
        SystemExit,
        match=r"^nothing imported: .*labels\.txt line 3: 'foo' is not an arXiv id or arXiv URL",
    ):
        main(["labels", "import", str(path)])
    assert _labels(sessions) == {}


def test_an_unreachable_arxiv_is_one_line_and_stores_nothing(env, sessions, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    with pytest.raises(SystemExit) as exit_:
        main(["labels", "import", str(IMPORTS / "zotero.json")])
    message = str(exit_.value.code)
    assert message.startswith(
        "nothing imported: arXiv is unreachable at http://127.0.0.1:9/api/query: 127.0.0.1 "
        "refused the connection"
    )
    assert "\n" not in message and _labels(sessions) == {}


def test_seed_lists_an_author_s_papers_and_labels_the_picked_ones(env, sessions, standin, capsys):
    theirs = sorted(
        (e for e in standin.catalog.entries.values() if "Jiachen Li" in e.authors),
        key=lambda e: e.published,
        reverse=True,
    )
    assert main(["seed", "--author", "Jiachen Li", "--pick", "1,3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '3 papers on arXiv for "Jiachen Li", newest first:'
    assert [line.split()[:2] for line in out[1:4]] == [
        [f"{n}.", e.id] for n, e in enumerate(theirs, start=1)
    ]
    assert out[4] == "2 arXiv ids: 2 new labels, 0 changed, 0 unchanged; 2 fetched from arXiv"
    assert _labels(sessions) == {theirs[0].id: 1, theirs[2].id: 1}

    assert main(["seed", "--author", "jiachen li", "--yes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("[stored ✓]") and not out[2].endswith("]")
    assert out[4] == (
        "3 arXiv ids: 1 new labels, 0 changed, 2 unchanged; 1 fetched from arXiv, 2 already stored"
    )


def test_seed_without_a_terminal_needs_yes_or_pick(env, sessions, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit, match="no terminal to ask which papers are yours: give --pick"):
        main(["seed", "--author", "Jiachen Li"])
    with pytest.raises(SystemExit, match=r"nothing labelled: '4' is not among the numbers 1 to 3"):
        main(["seed", "--author", "Jiachen Li", "--pick", "1,4"])
    assert _labels(sessions) == {}
    assert main(["seed", "--author", "Nobody Atall", "--yes"]) == 1
    assert 'arXiv lists no papers for the author "Nobody Atall"' in capsys.readouterr().out


def test_seed_asks_on_a_terminal(env, sessions, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("2-3\n"))
    assert main(["seed", "--author", "Jiachen Li"]) == 0
    assert "Which are yours?" in capsys.readouterr().out
    assert len(_labels(sessions)) == 2
