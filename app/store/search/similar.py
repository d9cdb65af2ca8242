""" "More like this": a paper's most distinctive terms asked of the full-text index."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import (
    Float,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from app.store.schema import Paper
from app.store.search.index import (
    FTS,
    FTS5_SIMILAR_WEIGHTS,
    FTS5_TOKENIZER,
    PAPER_ROWID,
    SEARCH_VECTOR,
    TS_RANK_WEIGHTS,
    backend,
    bm25,
    match,
    papers_in_order,
)
from app.store.search.query import MAX_RESULTS, WORD

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
_STOPWORDS = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now"""
STOPWORDS = frozenset(_STOPWORDS.split())


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
    if backend(session) == "sqlite":
        ids = _sqlite_similar(session, paper, limit)
    else:
        ids = _postgresql_similar(session, paper, limit)
    return papers_in_order(session, ids)


def _sqlite_terms(session: Session, paper: Paper) -> dict[str, tuple[float, str]]:
    """The paper's title and abstract terms as papers_fts holds them, with their frequency and
    a word of the paper that FTS5 reads as that term. FTS5 gives no document's terms, so the
    paper's words go through the same tokenizer in a scratch FTS5 table of this connection."""
    counts: Counter[str] = Counter(WORD.findall(paper.abstract.lower()))
    for word in WORD.findall(paper.title.lower()):
        counts[word] += TITLE_BOOST
    for word in STOPWORDS & counts.keys():
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
    rowid = session.scalar(select(PAPER_ROWID).where(Paper.id == paper.id))
    terms = _sqlite_terms(session, paper)
    if rowid is None or not terms:
        return []
    # Rowids only grow (papers are seldom deleted): the largest is the count, from the index.
    total = session.scalar(select(func.max(PAPER_ROWID)).select_from(Paper)) or 1
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
        .select_from(FTS)
        .join(Paper, FTS.c.rowid == PAPER_ROWID)
        .where(match(expression), FTS.c.rowid != rowid)
        .order_by(bm25(FTS5_SIMILAR_WEIGHTS), Paper.id)
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
        literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), SEARCH_VECTOR, anything, type_=Float
    )
    statement = (
        select(Paper.id)
        .where(SEARCH_VECTOR.op("@@")(anything), Paper.id != paper.id)
        .order_by(rank.desc(), Paper.submitted_on.desc(), Paper.id)
        .limit(min(limit, MAX_RESULTS))
    )
    return list(session.scalars(statement))
