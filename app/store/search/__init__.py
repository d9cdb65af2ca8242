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

The query language is ``query``, each backend's search ``index``, "more like this" ``similar``
and the answer with labels and scores ``results``.
"""

from app.store.search.index import FTS5_TOKENIZER, SearchUnavailable, search_papers
from app.store.search.query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MAX_RESULTS,
    QueryError,
    SearchQuery,
    parse_query,
    since_utc,
)
from app.store.search.results import FoundPaper, with_labels_and_scores
from app.store.search.similar import similar_papers

__all__ = [
    "FTS5_TOKENIZER",
    "FoundPaper",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "MAX_RESULTS",
    "QueryError",
    "SearchQuery",
    "SearchUnavailable",
    "parse_query",
    "search_papers",
    "similar_papers",
    "since_utc",
    "with_labels_and_scores",
]
