"""Finding stored papers: full-text search and "more like this", on each backend's own index.

* SQLite: the FTS5 table ``papers_fts`` (migration 0005; Porter stemming, accents folded), ranked
  by BM25 with the title weighing 10 times the abstract and the authors 4 times.
* PostgreSQL: the stored ``tsvector`` column ``papers.search_vector`` (English stemming,
  accents folded where the unaccent extension could be created; GIN index), ranked by
  ``ts_rank`` with the title weighing 5 times the abstract and the authors 2 times.

One query language on both, PostgreSQL's ``websearch_to_tsquery`` syntax: every word must
appear (in any form the stemmer gives it), ``"a phrase"`` in that order, ``a or b`` either,
``-word`` none of it. :func:`parse_query` reads what a reader typed into that structure, keeping
only the letters and digits of each term for FTS5 (which then sees nothing but quoted words, so
no input is an FTS5 syntax error), and renders it back for ``websearch_to_tsquery``, which takes
any text.

"More like this" asks the same index with the paper's most distinctive terms (title and abstract
terms by term frequency times inverse document frequency, title counted twice, stop words left
out) as an OR query, ranked as a search is: BM25 on SQLite, where a term the paper uses often is
named up to 3 times (BM25's query term frequency); ``ts_rank`` on PostgreSQL, which has no
inverse document frequency of its own, so there the choice of terms carries it. Document
frequencies come from the index itself (SQLite's ``papers_fts_vocab``) or from the column
statistics ANALYZE keeps (PostgreSQL's ``pg_stats``), so no request reads more than the paper and
the matches, and a budget of matches keeps a big database as fast as a small one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Text,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session

from app.store import queries
from app.store.rules import ScoredBy, current_score, is_recommended
from app.store.schema import Label, Paper, Score

MAX_QUERY_CHARS = 2000
MAX_QUERY_TERMS = 64
MAX_RESULTS = 100

# SQLite's tokenizer, as migration 0005 created papers_fts with it (a test keeps them equal).
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"
# BM25 column weights of papers_fts (title, abstract, authors).
FTS5_SEARCH_WEIGHTS = (10.0, 1.0, 4.0)
FTS5_SIMILAR_WEIGHTS = (2.0, 1.0, 0.0)
# ts_rank's weights of the labels D, C (abstract), B (authors), A (title).
TS_RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
# Migration 0005's text search configuration: English stemming, accents folded (unaccent).
POSTGRES_CONFIG = "'arxiv_reco_english'::regconfig"

# "More like this": how many of the paper's terms make the query, a title term counts this many
# times, and terms in more than this share of the papers are never distinctive.
SIMILAR_TERMS = 25
TITLE_BOOST = 2
COMMON_TERM_SHARE = 0.2
MAX_REPEATS = 3
# What one "more like this" may read, whatever the size of the database: the papers its terms
# name in all (each term's papers, times its repeats, on SQLite; on PostgreSQL, where each
# candidate's vector is read and ranked, the papers matching any term, at most). A big database
# keeps the rarer of the paper's distinctive terms. About 0.1 s on a shared 2-core machine.
SIMILAR_POSTINGS_SQLITE = 40_000
SIMILAR_ROWS_POSTGRESQL = 10_000

# PostgreSQL's English stop words (Snowball's list), which its configuration leaves out of the
# index: "more like this" leaves them out of a paper's terms on SQLite too, where they would cost
# the most to look up and say the least.
_STOP_WORDS = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[^\W_]+")
_OR = "or"


class QueryError(ValueError):
    """A query that cannot be searched for; the message says why, for a 422."""


class SearchUnavailable(RuntimeError):
    """The database backend has no full-text index (only SQLite and PostgreSQL have one)."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # its letters and digits, word by word: what FTS5 is given
    text: str  # as typed, without quotes and control characters: what websearch_to_tsquery reads
    excluded: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """Every group must match (AND); a group matches when one of its terms does (OR); no
    excluded term may match."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    def fts5(self) -> str:
        """The FTS5 MATCH expression: quoted words only, so it always parses."""
        expression = " AND ".join(_fts5_group(group) for group in self.groups)
        for term in self.excluded:
            expression = f"({expression}) NOT {_fts5_phrase(term)}"
        return expression

    def websearch(self) -> str:
        """The same query in ``websearch_to_tsquery``'s syntax."""
        parts = [" or ".join(f'"{t.text}"' for t in group) for group in self.groups]
        parts += [f'-"{t.text}"' for t in self.excluded]
        return " ".join(parts)


def _fts5_phrase(term: Term) -> str:
    return '"' + " ".join(term.words) + '"'


def _fts5_group(group: tuple[Term, ...]) -> str:
    if len(group) == 1:
        return _fts5_phrase(group[0])
    return "(" + " OR ".join(_fts5_phrase(t) for t in group) + ")"


def _clean(chunk: str) -> str:
    return "".join(
        " " if unicodedata.category(c).startswith(("C", "Z")) else c
        for c in chunk.replace('"', " ")
    ).strip()


def _lex(query: str) -> list[tuple[str, bool, bool]]:
    """(chunk, excluded, quoted) for each term and ``or`` of ``query``, in order."""
    items: list[tuple[str, bool, bool]] = []
    position, end = 0, len(query)
    while position < end:
        if query[position].isspace():
            position += 1
            continue
        excluded = (
            query[position] == "-" and position + 1 < end and not query[position + 1].isspace()
        )
        if excluded:
            position += 1
        if query[position] == '"':
            close = query.find('"', position + 1)
            close = end if close < 0 else close
            items.append((query[position + 1 : close], excluded, True))
            position = close + 1
            continue
        start = position
        while position < end and not query[position].isspace() and query[position] != '"':
            position += 1
        items.append((query[start:position], excluded, False))
    return items


def parse_query(query: str) -> SearchQuery:
    """A reader's query in websearch syntax, or QueryError saying why it cannot be searched."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are searched"
        )
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    for chunk, negated, quoted in _lex(query):
        if not quoted and not negated and chunk.lower() == _OR:
            join_next = bool(groups)
            continue
        words = tuple(_WORD.findall(chunk.lower()))
        if not words:  # punctuation alone ("*", "-", "NEAR(" keeps its word): nothing to find
            join_next = False
            continue
        term = Term(words=words, text=_clean(chunk), excluded=negated)
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    count = sum(len(g) for g in groups) + len(excluded)
    if count > MAX_QUERY_TERMS:
        raise QueryError(f"the query has {count} terms; at most {MAX_QUERY_TERMS} are searched")
    if not groups:
        raise QueryError(
            f"the query {query[:80]!r} has no word to look for: give at least one word of "
            "letters or digits that is not excluded with '-'"
        )
    return SearchQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def since_utc(value: dt.datetime) -> dt.datetime:
    """A ``since`` bound in UTC (a time without a zone is taken as UTC); ValueError when it
    falls outside the years a datetime can hold."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None


def _backend(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in ("sqlite", "postgresql"):
        raise SearchUnavailable(
            f"full-text search needs SQLite or PostgreSQL; this database is {name}"
        )
    return name


def _filters(
    *, category: str | None, unlabelled: bool, since: dt.datetime | None
) -> list[ColumnElement[bool]]:
    """Cross-lists count: a category filter matches any of a paper's categories."""
    conditions: list[ColumnElement[bool]] = []
    if category is not None:
        escaped = category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(cast(Paper.categories, Text).like(f'%"{escaped}"%', escape="\\"))
    if unlabelled:
        conditions.append(~exists().where(Label.paper_id == Paper.id))
    if since is not None:
        conditions.append(Paper.first_seen_at >= since_utc(since))
    return conditions


_FTS = table("papers_fts", column("rowid", Integer))
_FTS_TABLE: ColumnElement[str] = literal_column("papers_fts")
_PAPER_ROWID: ColumnElement[int] = literal_column("papers.rowid", Integer)
_SEARCH_VECTOR = literal_column("papers.search_vector", TSVECTOR)


def _match(expression: str) -> ColumnElement[bool]:
    return _FTS_TABLE.op("MATCH")(literal(expression, Text))


def _bm25(weights: tuple[float, float, float]) -> ColumnElement[float]:
    return func.bm25(_FTS_TABLE, *(literal_column(repr(w)) for w in weights), type_=Float)


def search_papers(
    session: Session,
    *,
    query: SearchQuery | str,
    category: str | None = None,
    unlabelled: bool = False,
    since: dt.datetime | None = None,
    limit: int = 20,
) -> list[Paper]:
    """Stored papers matching ``query``, best first: at most ``limit``, optionally only those in
    ``category``, not labelled yet, or first stored at or after ``since``. QueryError for a query
    with nothing to look for, SearchUnavailable on a backend without full-text search."""
    parsed = parse_query(query) if isinstance(query, str) else query
    conditions = _filters(category=category, unlabelled=unlabelled, since=since)
    if _backend(session) == "sqlite":
        statement = (
            select(Paper.id)
            .select_from(_FTS)
            .join(Paper, _FTS.c.rowid == _PAPER_ROWID)
            .where(_match(parsed.fts5()), *conditions)
            .order_by(_bm25(FTS5_SEARCH_WEIGHTS), Paper.id)
        )
    else:
        tsquery = func.websearch_to_tsquery(
            literal_column(POSTGRES_CONFIG), literal(parsed.websearch(), Text), type_=TSQUERY
        )
        rank = func.ts_rank(
            literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), _SEARCH_VECTOR, tsquery, type_=Float
        )
        statement = (
            select(Paper.id)
            .where(_SEARCH_VECTOR.op("@@")(tsquery), *conditions)
            .order_by(rank.desc(), Paper.id)
        )
    ids = list(session.scalars(statement.limit(min(limit, MAX_RESULTS))))
    return _papers_in_order(session, ids)


def _papers_in_order(session: Session, ids: list[str]) -> list[Paper]:
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(ids)))}
    return [papers[paper_id] for paper_id in ids]


@dataclass(frozen=True)
class TermWeight:
    term: str  # as the index holds it (a stem)
    query: str  # what to ask the index for it: a word of the paper (FTS5) or a tsquery literal
    weight: float  # term frequency times inverse document frequency
    frequency: float  # in the paper, a title word counted TITLE_BOOST times

    @property
    def repeats(self) -> int:
        """How often the query names the term: FTS5's BM25 sums over the query's phrases, so
        this is the query term frequency of BM25, saturating at 3."""
        return min(MAX_REPEATS, 1 + int(math.log2(self.frequency)))


def _distinctive(
    frequencies: dict[str, tuple[float, str]],
    shares: dict[str, float | None],
    papers: float | None,
    *,
    budget: float,
    repeated: bool,
) -> list[TermWeight]:
    """The paper's most distinctive terms, best first: (1 + log tf) times log(1 / share of
    papers); terms without a letter, or in more than COMMON_TERM_SHARE of the ``papers``, left
    out, and the next best one skipped while the papers the terms name would pass ``budget``
    (``repeated``: the query names each term its ``repeats`` times). A share None is unknown
    (rare): such a term weighs its frequency alone."""
    weighted = []
    for term, (frequency, query) in frequencies.items():
        share = shares.get(term)
        common = share is not None and share > COMMON_TERM_SHARE
        if common or len(term) < 2 or not any(c.isalpha() for c in term):
            continue
        idf = math.log(1 / share) if share else 1.0
        weighted.append(TermWeight(term, query, (1 + math.log(frequency)) * idf, frequency))
    weighted.sort(key=lambda t: (-t.weight, t.term))
    chosen: list[TermWeight] = []
    postings = 0.0
    for candidate in weighted:
        cost = (shares.get(candidate.term) or 0.0) * (papers or 0.0)
        cost *= candidate.repeats if repeated else 1
        if postings + cost > budget:
            continue
        chosen.append(candidate)
        postings += cost
        if len(chosen) == SIMILAR_TERMS:
            break
    return chosen


def similar_papers(session: Session, *, paper: Paper, limit: int = 10) -> list[Paper]:
    """The stored papers most like ``paper`` (never itself), most similar first."""
    if _backend(session) == "sqlite":
        ids = _sqlite_similar(session, paper, limit)
    else:
        ids = _postgresql_similar(session, paper, limit)
    return _papers_in_order(session, ids)


def _sqlite_terms(session: Session, paper: Paper) -> dict[str, tuple[float, str]]:
    """The paper's title and abstract terms as papers_fts holds them, with their frequency and
    a word of the paper that FTS5 reads as that term. FTS5 gives no document's terms, so the
    paper's words go through the same tokenizer in a scratch FTS5 table of this connection."""
    counts: Counter[str] = Counter(_WORD.findall(paper.abstract.lower()))
    for word in _WORD.findall(paper.title.lower()):
        counts[word] += TITLE_BOOST
    for word in STOP_WORDS & counts.keys():
        del counts[word]
    if not counts:
        return {}
    session.execute(
        text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.similar_probe USING fts5(word, "
            f"tokenize='{FTS5_TOKENIZER}')"
        )
    )
    session.execute(
        text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.similar_probe_terms "
            "USING fts5vocab(temp, similar_probe, instance)"
        )
    )
    session.execute(text("DELETE FROM temp.similar_probe"))
    words = sorted(counts)
    session.execute(
        text("INSERT INTO temp.similar_probe(rowid, word) VALUES (:rowid, :word)"),
        [{"rowid": index, "word": word} for index, word in enumerate(words, start=1)],
    )
    terms: dict[str, tuple[float, str]] = {}
    for term, rowid in session.execute(text("SELECT term, doc FROM temp.similar_probe_terms")):
        word = words[rowid - 1]
        frequency, query = terms.get(term, (0.0, word))
        terms[term] = (frequency + counts[word], min(query, word, key=len))
    session.execute(text("DELETE FROM temp.similar_probe"))
    return terms


def _sqlite_similar(session: Session, paper: Paper, limit: int) -> list[str]:
    rowid = session.scalar(select(_PAPER_ROWID).where(Paper.id == paper.id))
    terms = _sqlite_terms(session, paper)
    if rowid is None or not terms:
        return []
    # Rowids only grow (papers are seldom deleted): the largest is the count, from the index.
    total = session.scalar(select(func.max(_PAPER_ROWID)).select_from(Paper)) or 1
    documents: dict[str, int] = dict(
        session.execute(
            text("SELECT term, doc FROM papers_fts_vocab WHERE term IN :terms").bindparams(
                bindparam("terms", expanding=True)
            ),
            {"terms": list(terms)},
        ).all()
    )
    # A term no other paper has cannot find one.
    shares: dict[str, float | None] = {
        term: documents[term] / total for term in terms if documents.get(term, 0) > 1
    }
    chosen = _distinctive(
        {t: terms[t] for t in shares}, shares, total, budget=SIMILAR_POSTINGS_SQLITE, repeated=True
    )
    if not chosen:
        return []
    phrases = [f'"{t.query}"' for t in chosen for _ in range(t.repeats)]
    expression = "{title abstract} : (" + " OR ".join(phrases) + ")"
    statement = (
        select(Paper.id)
        .select_from(_FTS)
        .join(Paper, _FTS.c.rowid == _PAPER_ROWID)
        .where(_match(expression), _FTS.c.rowid != rowid)
        .order_by(_bm25(FTS5_SIMILAR_WEIGHTS), Paper.id)
        .limit(min(limit, MAX_RESULTS))
    )
    return list(session.scalars(statement))


def _tsquery_literal(lexeme: str) -> str:
    """One lexeme as a tsquery, taken as it is (no parser, no stemmer)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _postgresql_statistics(session: Session) -> tuple[dict[str, float], float | None, float | None]:
    """Share of papers holding each common lexeme, from the statistics ANALYZE keeps of the
    column; the share below which a lexeme is not listed there; and the number of papers, as
    ANALYZE counted them (both None before the first ANALYZE)."""
    row = session.execute(
        text(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_class AS c LEFT JOIN pg_stats AS s ON s.schemaname = current_schema() "
            "AND s.tablename = 'papers' AND s.attname = 'search_vector' "
            "WHERE c.oid = 'papers'::regclass"
        )
    ).one()
    lexemes, frequencies, papers = row
    papers = float(papers) if papers is not None and papers > 0 else None
    if lexemes is None:
        return {}, None, papers
    # The frequencies are followed by their minimum, maximum and the share of empty vectors.
    return dict(zip(lexemes, frequencies, strict=False)), frequencies[len(lexemes)], papers


def _postgresql_similar(session: Session, paper: Paper, limit: int) -> list[str]:
    rows = session.execute(
        text(
            "SELECT lexeme, cardinality(positions), cardinality(array_positions(weights, 'A')) "
            "FROM papers, unnest(ts_filter(search_vector, '{a,c}')) WHERE id = :id"
        ),
        {"id": paper.id},
    ).all()
    terms = {
        lexeme: (float(count + (TITLE_BOOST - 1) * in_title), _tsquery_literal(lexeme))
        for lexeme, count, in_title in rows
    }
    listed, least, papers = _postgresql_statistics(session)
    shares: dict[str, float | None] = {
        term: listed.get(term, least / 2 if least else None) for term in terms
    }
    chosen = _distinctive(terms, shares, papers, budget=SIMILAR_ROWS_POSTGRESQL, repeated=False)
    if not chosen:
        return []
    anything = cast(literal(" | ".join(t.query for t in chosen)), TSQUERY)
    rank = func.ts_rank(
        literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), _SEARCH_VECTOR, anything, type_=Float
    )
    statement = (
        select(Paper.id)
        .where(_SEARCH_VECTOR.op("@@")(anything), Paper.id != paper.id)
        .order_by(rank.desc(), Paper.submitted_on.desc(), Paper.id)
        .limit(min(limit, MAX_RESULTS))
    )
    return list(session.scalars(statement))


@dataclass(frozen=True)
class FoundPaper:
    """A paper found, with the reader's label and the active model's score beside it."""

    paper: Paper
    label: int | None
    probability: float | None  # None: no model, or not scored in this version yet
    recommended: bool


def with_labels_and_scores(
    session: Session, papers: list[Paper], *, model: ScoredBy | None
) -> list[FoundPaper]:
    ids = [p.id for p in papers]
    labels = queries.labels_of(session, paper_ids=ids)
    probabilities: dict[str, float] = {}
    if model is not None and ids:
        probabilities = dict(
            session.execute(
                select(Paper.id, Score.probability)
                .join(Score, current_score(model.version_id))
                .where(Paper.id.in_(ids))
            ).all()
        )
    return [
        FoundPaper(
            paper=p,
            label=labels.get(p.id),
            probability=probabilities.get(p.id),
            recommended=model is not None
            and is_recommended(probabilities.get(p.id), model.threshold),
        )
        for p in papers
    ]
