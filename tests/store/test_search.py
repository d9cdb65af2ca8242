"""Full-text search and "more like this" on each backend's own index (``app.store.search``),
over real listings ingested through the arXiv stand-in."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import column, insert, inspect, table, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import Database, alembic_config, session_scope
from app.jobs.ingest import ingest_day
from app.store.labels import set_label
from app.store.schema import Paper
from app.store.search import (
    FTS5_TOKENIZER,
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    QueryError,
    parse_query,
    search_papers,
    similar_papers,
)
from tests.factories import paper_row

DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))
CAM_SEG = "2503.15617"  # CAM-Seg, by Masud Ahmed, ..., Sanjay Purushotham; "Cityscapes"
UTTERANCE_REWRITING = ("2503.16043", "2503.16063")
UNCERTAINTY = ("2503.14749", "2503.15850")  # uncertainty distillation; its survey
ARABIC = ("2503.14603", "2503.15003")  # an Arabic LLM; alignment for the Arabs
UNLEARNING = ("2503.14900", "2503.14530")
CLAIM_DETECTION = "2503.15220"
FACT_CHECKING = {"2503.14828", "2503.16031", "2503.14626", "2503.14797"}

HOSTILE = [
    '"',
    '""',
    "*",
    "NEAR(",
    "NEAR(a b, 2)",
    "-",
    "--",
    "OR",
    "AND",
    "NOT",
    "a OR OR b",
    "diffusion OR",
    "OR diffusion",
    "(",
    ")",
    ":",
    "^",
    "title:diffusion",
    "{title abstract}: diffusion",
    "diffusion*",
    "'",
    "\\",
    "diffusion -",
    "-diffusion",
    '-"',
    '" OR "',
    "diffusion\x00models",
    "Müller",
    "日本語の論文",
    "😀 diffusion",
    "مرحبا",
    "e\u0301cole",
    "Ｄｉｆｆｕｓｉｏｎ",
    "x" * MAX_QUERY_CHARS,
    ("diffusion " * 400)[:MAX_QUERY_CHARS],
    " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS)),
    "a " + " ".join(f"-w{i}" for i in range(MAX_QUERY_TERMS - 1)),
]


def _analyze(session: Session) -> None:
    """What autovacuum does on PostgreSQL after a day's ingestion: "more like this" reads the
    lexeme frequencies of its statistics."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE papers"))


@pytest.fixture
def listed(sessions: sessionmaker[Session], settings) -> sessionmaker[Session]:
    """Three real days of cs.AI, cs.CL and cs.LG listings, 180 papers."""
    for day in DAYS:
        ingest_day(sessions, day, settings)
    with session_scope(sessions) as session:
        _analyze(session)
    return sessions


def _ids(papers: list[Paper]) -> list[str]:
    return [p.id for p in papers]


def test_finds_a_paper_by_a_word_of_its_abstract_and_by_an_author(listed):
    with listed() as session:
        assert _ids(search_papers(session, query="Cityscapes")) == [CAM_SEG]
        assert _ids(search_papers(session, query="Purushotham")) == [CAM_SEG]
        # Stemmed: the abstract says "embeddings"; case and accents do not matter.
        assert CAM_SEG in _ids(search_papers(session, query="CITYSCAPE embedding", limit=100))
        assert "2503.15837" in _ids(search_papers(session, query="fuxi"))  # Fùxì


def test_the_query_language(listed):
    with listed() as session:
        both = set(_ids(search_papers(session, query="utterance rewriting")))
        assert both == set(UTTERANCE_REWRITING)
        phrase = _ids(search_papers(session, query='"two-stage incomplete utterance"'))
        assert phrase == ["2503.16063"]
        either = set(_ids(search_papers(session, query="Cityscapes or utterance", limit=50)))
        utterance = set(_ids(search_papers(session, query="utterance", limit=50)))
        assert either == {CAM_SEG} | utterance and len(utterance) > 2
        excluded = _ids(search_papers(session, query="utterance -augmentation"))
        assert excluded == ["2503.16063"]


def test_a_title_match_ranks_above_a_passing_mention(sessions):
    with session_scope(sessions) as session:
        session.add_all(
            [
                paper_row(
                    "2601.00001",
                    title="Graph methods",
                    abstract="We study graphs. "
                    + "Many words about other things. " * 8
                    + "Zeolite appears once in passing.",
                ),
                paper_row("2601.00002", title="Zeolite frameworks", abstract="A short abstract."),
            ]
        )
    with sessions() as session:
        assert _ids(search_papers(session, query="zeolite")) == ["2601.00002", "2601.00001"]


def test_filters_by_category_unlabelled_and_since(listed):
    with listed() as session:
        everything = search_papers(session, query="language", limit=100)
        in_cv = search_papers(session, query="language", category="cs.CV", limit=100)
        assert in_cv and len(in_cv) < len(everything)
        assert all("cs.CV" in p.categories for p in in_cv)
        assert {p.id for p in everything if "cs.CV" in p.categories} == set(_ids(in_cv))

        set_label(session, paper_id=everything[0].id, interest=1, source="test")
        session.commit()
        unlabelled = _ids(search_papers(session, query="language", unlabelled=True, limit=100))
        assert unlabelled == [p.id for p in everything[1:]]

        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        session.add(paper_row("2601.00003", title="A language paper", first_seen_at=later))
        session.commit()
        assert _ids(search_papers(session, query="language", since=later)) == ["2601.00003"]
        # A time without a zone is UTC; a date alone is its midnight.
        naive = later.replace(tzinfo=None)
        assert _ids(search_papers(session, query="language", since=naive)) == ["2601.00003"]


def test_hostile_queries_are_searched_or_refused_never_an_error(listed):
    searched = refused = 0
    with listed() as session:
        for query in HOSTILE:
            try:
                found = search_papers(session, query=query)
            except QueryError:
                refused += 1
                continue
            assert isinstance(found, list), query
            searched += 1
    assert searched > refused > 0


def test_what_cannot_be_searched_says_why():
    for query in ("", "   ", "*", "-", '"', "-diffusion", "NEAR(", "OR"):
        if query == "NEAR(":
            assert parse_query(query).fts5() == '"near"'
            continue
        with pytest.raises(QueryError, match="no word to look for"):
            parse_query(query)
    with pytest.raises(QueryError, match=f"at most {MAX_QUERY_CHARS}"):
        parse_query("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(QueryError, match=f"at most {MAX_QUERY_TERMS}"):
        parse_query(" ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 1)))


def test_the_index_follows_ingestion_updates_and_deletes(sessions):
    with session_scope(sessions) as session:
        session.add(paper_row("2601.00010", title="Quokka census", authors=["Jürgen Müller"]))
    with session_scope(sessions) as session:
        assert _ids(search_papers(session, query="quokka")) == ["2601.00010"]
        assert _ids(search_papers(session, query="muller")) == ["2601.00010"]
        paper = session.get(Paper, "2601.00010")
        paper.title = "Wombat census"
        paper.authors = ["Ada Lovelace"]
    with session_scope(sessions) as session:
        assert search_papers(session, query="quokka") == []
        assert search_papers(session, query="Müller") == []
        assert _ids(search_papers(session, query="wombat lovelace")) == ["2601.00010"]
        session.get(Paper, "2601.00010").version = 2  # a change that leaves the text alone
    with session_scope(sessions) as session:
        assert _ids(search_papers(session, query="wombat")) == ["2601.00010"]
        session.delete(session.get(Paper, "2601.00010"))
    with sessions() as session:
        assert search_papers(session, query="wombat") == []
        assert search_papers(session, query="census") == []


def test_a_newly_ingested_day_is_searchable_at_once(sessions, settings):
    with sessions() as session:
        assert search_papers(session, query="Cityscapes") == []
    ingest_day(sessions, dt.date(2025, 3, 21), settings)
    with sessions() as session:
        assert _ids(search_papers(session, query="Cityscapes")) == [CAM_SEG]


def test_more_like_this_lists_related_papers_first(listed):
    with listed() as session:

        def similar(paper_id: str, limit: int = 3) -> list[str]:
            return _ids(similar_papers(session, paper=session.get(Paper, paper_id), limit=limit))

        for first, second in (UTTERANCE_REWRITING, UNCERTAINTY, ARABIC):
            assert similar(first)[0] == second
            assert similar(second)[0] == first
        unlearning, other = UNLEARNING
        assert other in similar(unlearning)
        # Four fact-checking papers among 95 others: three of them in the first five.
        assert len(set(similar(CLAIM_DETECTION, limit=5)) & FACT_CHECKING) >= 3

        twenty = similar(CLAIM_DETECTION, limit=20)
        assert CLAIM_DETECTION not in twenty and len(twenty) == 20


def test_more_like_this_for_papers_with_little_text(sessions):
    with session_scope(sessions) as session:
        session.add_all(
            [
                paper_row("2601.00020", title="", abstract=""),
                paper_row("2601.00021", title="Unique", abstract="Xylophone"),
            ]
        )
    with sessions() as session:
        for paper_id in ("2601.00020", "2601.00021"):
            assert similar_papers(session, paper=session.get(Paper, paper_id)) == []


def _fts_objects(url: str) -> set[str]:
    with Database(url, migrate=False) as database, database.engine.connect() as connection:
        if database.backend == "sqlite":
            rows = connection.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE 'papers_fts%'")
            )
            return {row[0] for row in rows}
        columns = inspect(connection).get_columns("papers")
        return {c["name"] for c in columns if c["name"] == "search_vector"}


def _add_at_0004(session, paper) -> None:
    """Store ``paper`` in a database at revision 0004, whose papers have no columns of later
    revisions (0007's subject_classes)."""
    older = [c for c in Paper.__table__.columns if c.name != "subject_classes"]
    papers = table("papers", *(column(c.name, c.type) for c in older))  # no later defaults
    session.execute(insert(papers).values({c.name: getattr(paper, c.key) for c in older}))


def test_the_migration_indexes_existing_papers_and_downgrades_cleanly(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "0004")
    command.downgrade(config, "0004")  # PostgreSQL's test database comes migrated to the head
    assert _fts_objects(database_url) == set()
    with Database(database_url, migrate=False) as database:
        with database.session() as session:
            _add_at_0004(
                session, paper_row("2601.00030", title="Ocelot survey", authors=["Émilie Brontë"])
            )
        command.upgrade(config, "head")
        assert _fts_objects(database_url)
        with database.session() as session:
            assert _ids(search_papers(session, query="ocelot")) == ["2601.00030"]
            assert _ids(search_papers(session, query="bronte")) == ["2601.00030"]
            session.add(paper_row("2601.00031", title="Ocelot again"))
        command.downgrade(config, "0004")
        assert _fts_objects(database_url) == set()
        with database.session() as session:  # the papers are all there, and writable
            _add_at_0004(session, paper_row("2601.00032", title="Ocelot thrice"))
        command.upgrade(config, "head")
        with database.session() as session:
            found = set(_ids(search_papers(session, query="ocelot")))
            assert found == {"2601.00030", "2601.00031", "2601.00032"}


@pytest.mark.sqlite_only
def test_the_tokenizer_is_the_one_the_migration_made(sessions):
    with sessions() as session:
        made = session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'"))
    assert f"tokenize='{FTS5_TOKENIZER}'" in made
