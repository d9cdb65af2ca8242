"""The project's one arXiv client: the ``arxiv`` package, pointed at a configurable API URL.

On top of the package it adds what a long-running service needs: a timeout on every request,
exponential backoff on 429/5xx, timeouts, connection errors, malformed or truncated XML and
spurious empty pages, and a check that every page holds as many entries as the API announced.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import arxiv
import requests
import urllib3.exceptions
from tenacity import RetryCallState, retry, retry_if_exception, wait_exponential

from app.core.arxiv_ids import split_version
from app.core.config import Settings, split_subject_classes

logger = logging.getLogger(__name__)


CONNECT_RETRY_WAIT_SECONDS = 2.0


class FetchError(RuntimeError):
    """The arXiv API could not give a complete answer, even after retries."""


class RefusedError(FetchError):
    """arXiv refused the request as malformed (HTTP 400), e.g. an id it does not take."""


class IncompletePageError(RuntimeError):
    """A page that parsed, but held fewer entries than the API announced (truncated XML)."""


@dataclass(frozen=True)
class ArxivPaper:
    """One paper as the arXiv API describes it, reduced to what the service stores."""

    id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]  # arXiv's categories only
    primary_category: str
    submitted_at: dt.datetime
    updated_at: dt.datetime
    comment: str | None
    journal_ref: str | None
    doi: str | None
    abs_url: str
    pdf_url: str | None
    subject_classes: list[str] = field(default_factory=list)  # MSC and ACM classes


# Ids in one id_list request: a short URL, and one page at the default page size.
ID_BATCH = 100


@dataclass
class IdLookup:
    """What arXiv answered for a list of ids: the papers it has, by id without version, and the
    ids it refused as malformed (with why). An id in neither is one arXiv does not know."""

    papers: dict[str, ArxivPaper] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def author_query(name: str) -> str:
    """arXiv's search for the papers of one author: ``au:"Full Name"`` (a quoted name matches
    its words in one author's name, in any case; ``Hinton_G`` is arXiv's surname_initial form)."""
    words = name.replace('"', " ").split()
    if not any(ch.isalpha() for word in words for ch in word):
        raise ValueError(f"an author's name needs letters, got {name!r}")
    return f'au:"{" ".join(words)}"'


def day_query(categories: Sequence[str], day: dt.date) -> str:
    """Papers first submitted on ``day`` (UTC) in any of ``categories``, cross-lists included."""
    cats = " OR ".join(f"cat:{c}" for c in categories)
    stamp = day.strftime("%Y%m%d")
    return f"({cats}) AND submittedDate:[{stamp}0000 TO {stamp}2359]"


def to_paper(result: arxiv.Result) -> ArxivPaper:
    paper_id, version = split_version(result.get_short_id())
    abs_url = next((link.href for link in result.links if link.rel == "alternate"), "")
    categories, subject_classes = split_subject_classes(result.categories)
    return ArxivPaper(
        id=paper_id,
        version=version,
        title=" ".join(result.title.split()),
        abstract=" ".join(result.summary.split()),
        authors=[author.name for author in result.authors],
        categories=categories,
        subject_classes=subject_classes,
        primary_category=result.primary_category or (categories[0] if categories else ""),
        submitted_at=result.published,
        updated_at=result.updated,
        comment=result.comment or None,
        journal_ref=result.journal_ref or None,
        doi=result.doi or None,
        abs_url=abs_url or f"https://arxiv.org/abs/{paper_id}",
        pdf_url=result.pdf_url,
    )


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, arxiv.HTTPError):
        return error.status == 429 or error.status >= 500
    return isinstance(
        error,
        arxiv.UnexpectedEmptyPageError
        | IncompletePageError
        | requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError,
    )


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps: causes, contexts, and urllib3's ``reason``."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [a for a in current.args if isinstance(a, BaseException)]
        stack += [e for e in linked if isinstance(e, BaseException)]
    return seen


def unreachable(error: BaseException | None, url: str) -> str | None:
    """One human line when ``error`` means arXiv could not be reached at all (no network, a
    wrong URL), None for any other failure."""
    if not isinstance(error, requests.exceptions.ConnectionError):
        return None
    causes = _causes(error)
    host = urlparse(url).hostname or url
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in causes):
        why = f"the name {host} does not resolve"
    elif any(isinstance(e, ConnectionRefusedError) for e in causes):
        why = f"{host} refused the connection"
    elif isinstance(error, requests.exceptions.ConnectTimeout):
        why = f"connecting to {host} timed out"
    else:
        why = "no connection could be made"
    return (
        f"arXiv is unreachable at {url}: {why}. Check this machine's network connection "
        "(offline? a proxy?) and ARXIV_RECO_ARXIV_API_URL"
    )


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    url = getattr(state.args[0], "api_url", "") if state.args else ""
    logger.warning(
        "arXiv request failed (attempt %d): %s; retrying in %.1fs",
        state.attempt_number,
        unreachable(error, url) or error,
        state.next_action.sleep if state.next_action else 0.0,
    )


class ArxivClient(arxiv.Client):
    """``arxiv.Client`` with a base URL, request timeouts, backoff and completeness checks."""

    def __init__(self, settings: Settings):
        # Retries are ours (with backoff), so the package's own immediate retries are off.
        super().__init__(
            page_size=settings.page_size,
            delay_seconds=settings.request_delay_seconds,
            num_retries=0,
        )
        self.api_url = settings.arxiv_api_url
        # One request at a time from one client, so that the delay between requests holds for
        # a client shared by threads (the API's look-ups).
        self._lock = threading.Lock()
        self.query_url_format = f"{settings.arxiv_api_url}?{{}}"
        self._session = _TimeoutSession(settings.request_timeout_seconds)
        backoff = wait_exponential(multiplier=settings.retry_backoff_seconds, max=300)

        def offline(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return unreachable(error, self.api_url) is not None

        # An unreachable arXiv (DNS, refused, no route) is rarely fixed by waiting: a short
        # budget, so an offline day costs seconds, not minutes. 429 and 5xx keep the backoff.
        def stop(state: RetryCallState) -> bool:
            limit = settings.connect_retries if offline(state) else settings.retries
            return state.attempt_number > limit

        def wait(state: RetryCallState) -> float:
            if offline(state):
                return min(settings.retry_backoff_seconds, CONNECT_RETRY_WAIT_SECONDS)
            return float(backoff(state))

        self._fetch_page = retry(
            retry=retry_if_exception(_is_transient),
            stop=stop,
            wait=wait,
            before_sleep=_log_retry,
            reraise=True,
        )(self._fetch_page_once)

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> Any:
        return self._fetch_page(url, first_page)

    def _fetch_page_once(self, url: str, first_page: bool) -> Any:
        feed = super()._parse_feed(url, first_page=first_page, _try_index=0)
        if feed.malformed:
            raise IncompletePageError(f"malformed XML from {url}: {feed.error}")
        if feed.header.items_per_page == 0:
            # Every arXiv answer, even an empty one, says how many items a page holds.
            raise IncompletePageError(f"not an arXiv Atom feed from {url}")
        query = parse_qs(urlparse(url).query)
        start = int(query.get("start", ["0"])[0])
        asked = int(query.get("max_results", [str(self.page_size)])[0])
        total = feed.header.total_results
        expected = max(0, min(asked, total - start))
        if len(feed.results) < expected:
            raise IncompletePageError(
                f"page at start={start} held {len(feed.results)} entries, "
                f"expected {expected} of {total} (truncated or partial response)"
            )
        return feed

    def fetch(self, query: str = "", id_list: Sequence[str] = ()) -> list[ArxivPaper]:
        """Every result of ``query`` or of an id list, de-duplicated by id; newest version wins."""
        return self._collect(
            arxiv.Search(
                query=query,
                id_list=list(id_list),
                max_results=None,
                sort_by=arxiv.SortCriterion.SubmittedDate,
                sort_order=arxiv.SortOrder.Ascending,
            )
        )

    def fetch_ids(self, ids: Sequence[str]) -> IdLookup:
        """The newest version of each paper, ``ID_BATCH`` ids a request; versions in ``ids``
        are dropped. An id arXiv does not know is left out; one it refuses as malformed fails
        its whole request with HTTP 400, so that request is halved until the id is found."""
        unique = list(dict.fromkeys(split_version(i)[0] for i in ids))
        lookup = IdLookup()
        for start in range(0, len(unique), ID_BATCH):
            self._look_up(unique[start : start + ID_BATCH], lookup)
        return lookup

    def _look_up(self, ids: list[str], lookup: IdLookup) -> None:
        try:
            papers = self.fetch(id_list=ids)
        except RefusedError:
            if len(ids) == 1:
                lookup.refused[ids[0]] = "arXiv refuses the id as malformed (HTTP 400)"
                return
            half = len(ids) // 2
            self._look_up(ids[:half], lookup)
            self._look_up(ids[half:], lookup)
            return
        lookup.papers.update((paper.id, paper) for paper in papers)

    def author_papers(self, name: str, *, limit: int) -> list[ArxivPaper]:
        """The newest ``limit`` papers arXiv lists for the author ``name``, newest first."""
        return self._collect(
            arxiv.Search(
                query=author_query(name),
                max_results=limit,
                sort_by=arxiv.SortCriterion.SubmittedDate,
                sort_order=arxiv.SortOrder.Descending,
            )
        )

    def _collect(self, search: arxiv.Search) -> list[ArxivPaper]:
        papers: dict[str, ArxivPaper] = {}
        try:
            with self._lock:
                for result in self.results(search):
                    paper = to_paper(result)
                    known = papers.get(paper.id)
                    if known is None or paper.version > known.version:
                        papers[paper.id] = paper
        except arxiv.HTTPError as err:
            logger.debug("arXiv query failed", exc_info=True)
            if err.status == 400:
                raise RefusedError(f"arXiv query failed: {err}") from err
            raise FetchError(f"arXiv query failed: {err}") from err
        except (arxiv.ArxivError, IncompletePageError, requests.RequestException) as err:
            logger.debug("arXiv query failed", exc_info=True)
            raise FetchError(
                unreachable(err, self.api_url) or f"arXiv query failed: {err}"
            ) from err
        return list(papers.values())

    def fetch_day(self, categories: Sequence[str], day: dt.date) -> list[ArxivPaper]:
        papers = self.fetch(day_query(categories, day))
        # The API's submittedDate is the first version's time; keep only that UTC day.
        return [p for p in papers if p.submitted_at.astimezone(dt.timezone.utc).date() == day]
