"""Full-text search on each backend's own index: SQLite's FTS5 table, PostgreSQL's stored
``tsvector`` (migration 0005), and the filters both take."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Text,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session

from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper
from app.store.search.query import MAX_RESULTS, SearchQuery, parse_query, since_utc

# SQLite's tokenizer, as migration 0005 created papers_fts with it (a test keeps them equal).
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"
# BM25 column weights of papers_fts (title, abstract, authors).
FTS5_SEARCH_WEIGHTS = (10.0, 1.0, 4.0)
FTS5_SIMILAR_WEIGHTS = (2.0, 1.0, 0.0)
# ts_rank's weights of the labels D, C (abstract), B (authors), A (title).
TS_RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
# Migration 0005's text search configuration: English stemming, accents folded (unaccent).
POSTGRES_CONFIG = "'arxiv_reco_english'::regconfig"


class SearchUnavailable(RuntimeError):
    """The database backend has no full-text index (only SQLite and PostgreSQL have one)."""


def backend(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in ("sqlite", "postgresql"):
        raise SearchUnavailable(
            f"full-text search needs SQLite or PostgreSQL; this database is {name}"
        )
    return name


def filters(
    *,
    category: str | None,
    unlabelled: bool,
    since: dt.datetime | None,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[ColumnElement[bool]]:
    """Cross-lists count: a category filter matches any of a paper's categories."""
    conditions: list[ColumnElement[bool]] = []
    if category is not None:
        escaped = category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(cast(Paper.categories, Text).like(f'%"{escaped}"%', escape="\\"))
    if unlabelled:
        conditions.append(~exists().where(Label.topic_id == topic_id, Label.paper_id == Paper.id))
    if since is not None:
        conditions.append(Paper.first_seen_at >= since_utc(since))
    return conditions


FTS = table("papers_fts", column("rowid", Integer))
FTS_TABLE: ColumnElement[str] = literal_column("papers_fts")
PAPER_ROWID: ColumnElement[int] = literal_column("papers.rowid", Integer)
SEARCH_VECTOR = literal_column("papers.search_vector", TSVECTOR)


def match(expression: str) -> ColumnElement[bool]:
    return FTS_TABLE.op("MATCH")(literal(expression, Text))


def bm25(weights: tuple[float, float, float]) -> ColumnElement[float]:
    return func.bm25(FTS_TABLE, *(literal_column(repr(w)) for w in weights), type_=Float)


def search_papers(
    session: Session,
    *,
    query: SearchQuery | str,
    category: str | None = None,
    unlabelled: bool = False,
    since: dt.datetime | None = None,
    limit: int = 20,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[Paper]:
    """Stored papers matching ``query``, best first: at most ``limit``, optionally only those in
    ``category``, not labelled yet, or first stored at or after ``since``. QueryError for a query
    with nothing to look for, SearchUnavailable on a backend without full-text search."""
    parsed = parse_query(query) if isinstance(query, str) else query
    conditions = filters(category=category, unlabelled=unlabelled, since=since, topic_id=topic_id)
    if backend(session) == "sqlite":
        statement = (
            select(Paper.id)
            .select_from(FTS)
            .join(Paper, FTS.c.rowid == PAPER_ROWID)
            .where(match(parsed.fts5()), *conditions)
            .order_by(bm25(FTS5_SEARCH_WEIGHTS), Paper.id)
        )
    else:
        tsquery = func.websearch_to_tsquery(
            literal_column(POSTGRES_CONFIG), literal(parsed.websearch(), Text), type_=TSQUERY
        )
        rank = func.ts_rank(
            literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), SEARCH_VECTOR, tsquery, type_=Float
        )
        statement = (
            select(Paper.id)
            .where(SEARCH_VECTOR.op("@@")(tsquery), *conditions)
            .order_by(rank.desc(), Paper.id)
        )
    ids = list(session.scalars(statement.limit(min(limit, MAX_RESULTS))))
    return papers_in_order(session, ids)


def papers_in_order(session: Session, ids: list[str]) -> list[Paper]:
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(ids)))}
    return [papers[paper_id] for paper_id in ids]
