"""The query language of search, PostgreSQL's ``websearch_to_tsquery`` syntax on both backends:
what a reader typed, parsed (``parse_query``) into terms FTS5 and PostgreSQL both take.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 2000
MAX_QUERY_TERMS = 64
MAX_RESULTS = 100

WORD = re.compile(r"[^\W_]+")
_OR = "or"


class QueryError(ValueError):
    """A query that cannot be searched for; the message says why, for a 422."""


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
        words = tuple(WORD.findall(chunk.lower()))
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
