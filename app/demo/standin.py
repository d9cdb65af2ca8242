"""A local stand-in for the arXiv export API (a developer tool): tests, benchmarks and the demo.

It serves Atom pages in the exact wire format of the real API (see tests/fixtures/arxiv_api/)
built from real daily listings, answers ``search_query`` with categories, a submittedDate range
and authors (``au:"Full Name"``: every word of the name in one author's name, in any case, as
arXiv matches), ``id_list`` look-ups (an id it does not know is simply absent: a feed without
that entry, as arXiv answers), sorting, paging, the HTTP 400 error feed, and can inject faults:
429, 503, slow answers (client time-outs), truncated XML, garbage and spurious empty pages.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape, quoteattr

logger = logging.getLogger(__name__)

# "ok" answers normally: it lets a test aim a fault at the n-th request.
FAULTS = ("ok", "429", "503", "timeout", "truncated", "empty", "garbage")
_ID_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")


@dataclass
class Entry:
    id: str
    version: int
    title: str
    summary: str
    authors: list[str]
    categories: list[str]
    published: dt.datetime
    updated: dt.datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


@dataclass
class Catalog:
    """The papers the stand-in knows, keyed by id without version."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entries[entry.id] = entry

    def revise(self, paper_id: str, **changes: Any) -> Entry:
        """A new version of a paper, as when an author replaces it."""
        old = self.entries[paper_id]
        updated = old.updated + dt.timedelta(days=1)
        new = replace(old, version=old.version + 1, updated=updated, **changes)
        self.entries[paper_id] = new
        return new

    def days(self) -> list[dt.date]:
        return sorted({e.published.date() for e in self.entries.values()})

    def on_day(self, day: dt.date, categories: Iterable[str]) -> list[Entry]:
        wanted = set(categories)
        return [
            e
            for e in self.entries.values()
            if e.published.date() == day and wanted.intersection(e.categories)
        ]


def read_listing(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        return [json.loads(line) for line in handle if line.strip()]


def listing_files(directory: Path) -> dict[dt.date, Path]:
    """Weekday listing files by day; weekend files only repeat Friday's and are skipped."""
    files: dict[dt.date, Path] = {}
    for path in sorted(Path(directory).glob("*.jsonl*")):
        day = dt.date.fromisoformat(path.name[:10])
        if day.weekday() < 5:
            files[day] = path
    return files


def catalog_from_listings(directory: Path, days: Iterable[dt.date] | None = None) -> Catalog:
    """Each paper is first submitted on the weekday it is first listed; later listings of it
    are cross-lists of the same version."""
    catalog = Catalog()
    files = listing_files(directory)
    wanted = set(days) if days is not None else set(files)
    for day, path in files.items():
        if day not in wanted:
            continue
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        for index, row in enumerate(read_listing(path)):
            known = catalog.entries.get(row["id"])
            if known is not None:
                # A later listing of the same paper is a cross-list: it may add categories.
                extra = [c for c in row["categories"] if c not in known.categories]
                known.categories.extend(extra)
                continue
            stamp = midnight + dt.timedelta(seconds=17 * index)
            catalog.add(
                Entry(
                    id=row["id"],
                    version=1,
                    title=row["title"],
                    summary=row["summary"],
                    authors=list(row["authors"]),
                    categories=list(row["categories"]),
                    published=stamp,
                    updated=stamp,
                    comment=row.get("comment"),
                )
            )
    return catalog


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_entry(entry: Entry) -> str:
    vid = f"{entry.id}v{entry.version}"
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{vid}</id>",
        f"    <title>{escape(entry.title)}</title>",
        f"    <updated>{_stamp(entry.updated)}</updated>",
        f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"'
        ' title="pdf"/>',
        f"    <summary>{escape(entry.summary)}</summary>",
    ]
    lines += [
        f'    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>'
        for c in entry.categories
    ]
    lines.append(f"    <published>{_stamp(entry.published)}</published>")
    if entry.comment:
        lines.append(f"    <arxiv:comment>{escape(entry.comment)}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(entry.categories[0])}/>")
    if entry.journal_ref:
        lines.append(f"    <arxiv:journal_ref>{escape(entry.journal_ref)}</arxiv:journal_ref>")
    for author in entry.authors:
        lines += ["    <author>", f"      <name>{escape(author)}</name>", "    </author>"]
    if entry.doi:
        lines.append(f"    <arxiv:doi>{escape(entry.doi)}</arxiv:doi>")
    lines.append("  </entry>")
    return "\n".join(lines)


def render_feed(
    entries: list[Entry],
    *,
    total: int,
    start: int,
    per_page: int,
    query: str,
    id_list: str = "",
) -> str:
    """A page of results, its head as arXiv writes it: the query echoed in the title and the
    link (in arXiv's own order of the parameters), and an opaque id made from the query."""
    now = _stamp(dt.datetime.now(dt.timezone.utc))
    echoed = f"search_query={query}&id_list={id_list}&start={start}&max_results={per_page}"
    link = (
        f"https://arxiv.org/api/query?search_query={query}&start={start}"
        f"&max_results={per_page}&id_list={id_list}"
    )
    digest = base64.b64encode(hashlib.sha1(echoed.encode()).digest()).decode().rstrip("=")
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <id>https://arxiv.org/api/{digest}</id>\n"
        f"  <title>arXiv Query: {escape(echoed)}</title>\n"
        f"  <updated>{now}</updated>\n"
        f'  <link href={quoteattr(link)} type="application/atom+xml"/>\n'
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    body = "".join(render_entry(e) + "\n" for e in entries)
    return head + body + "</feed>\n"


def render_error(message: str) -> str:
    now = _stamp(dt.datetime.now(dt.timezone.utc))
    anchor = "https://arxiv.org/api/errors#" + re.sub(r"\W+", "_", message)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n"
        f"  <updated>{now}</updated>\n"
        "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        "  <opensearch:totalResults>1</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        f"  <entry>\n    <id>{anchor}</id>\n    <title>Error</title>\n"
        f"    <updated>{now}</updated>\n"
        f'    <link href={quoteattr(anchor)} rel="alternate" type="text/html"/>\n'
        f"    <summary>{escape(message)}</summary>\n"
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>\n</feed>\n"
    )


_DATE_RANGE = re.compile(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]")
_CATEGORY = re.compile(r"cat:([A-Za-z.-]+)")
_AUTHOR = re.compile(r'au:(?:"([^"]*)"|(\S+))')
_VERSION = re.compile(r"v\d+$")


def _words(name: str) -> list[str]:
    """A name's words, lower case and without accents (arXiv's search folds both)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", folded.lower())


def author_matches(wanted: str, author: str) -> bool:
    """``au:`` as arXiv reads it: every word of the wanted name among one author's words, or
    arXiv's ``Surname_I`` form (a surname, and a first name with that initial)."""
    words = _words(author)
    if "_" in wanted and " " not in wanted.strip():
        surname, _, initials = wanted.partition("_")
        return (
            bool(words)
            and _words(surname) == words[-len(_words(surname)) :]
            and all(any(w.startswith(i) for w in words[:-1]) for i in _words(initials))
        )
    return bool(_words(wanted)) and set(_words(wanted)) <= set(words)


STOP_POLL_SECONDS = 0.02


class ArxivStandIn:
    """A threaded HTTP server on 127.0.0.1 that plays the arXiv export API.

    ``faults`` is a queue: each request takes the next fault, if any, before it is answered.
    """

    def __init__(self, catalog: Catalog, *, timeout_delay: float = 2.0, port: int = 0):
        self.catalog = catalog
        self.faults: deque[str] = deque()
        self.timeout_delay = timeout_delay
        self.requests: list[tuple[float, dict[str, list[str]]]] = []  # (monotonic time, query)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/api/query"

    def inject(self, *faults: str) -> None:
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; expected some of {FAULTS}")
        self.faults.extend(faults)

    def start(self) -> ArxivStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # How often the loop looks for stop(): the default 0.5 s was half a second at the
            # end of every test that used a stand-in (most of the suite), and of the demo.
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ArxivStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, params: dict[str, list[str]]) -> tuple[int, str]:
        """The status and body the API would give for these query parameters."""
        query = params.get("search_query", [""])[0]
        id_list = [i for i in params.get("id_list", [""])[0].split(",") if i]
        try:
            start = int(params.get("start", ["0"])[0])
            per_page = int(params.get("max_results", ["10"])[0])
        except ValueError:
            return 400, render_error("start and max_results must be integers")
        for raw in id_list:
            if not _ID_RE.match(raw):
                return 400, render_error(f"incorrect id format for {raw}")
        matches = self._matching(query, id_list)
        if params.get("sortBy", [""])[0] == "lastUpdatedDate":
            matches.sort(key=lambda e: (e.updated, e.id))
        if params.get("sortOrder", [""])[0] == "descending":
            matches.reverse()
        page = matches[start : start + per_page]
        return 200, render_feed(
            page,
            total=len(matches),
            start=start,
            per_page=per_page,
            query=query,
            id_list=",".join(id_list),
        )

    def _matching(self, query: str, id_list: list[str]) -> list[Entry]:
        entries = list(self.catalog.entries.values())
        if id_list:
            wanted = {_VERSION.sub("", i) for i in id_list}
            entries = [e for e in entries if e.id in wanted]
        if query:
            categories = set(_CATEGORY.findall(query))
            if categories:
                entries = [e for e in entries if categories.intersection(e.categories)]
            date_range = _DATE_RANGE.search(query)
            if date_range:
                low = dt.datetime.strptime(date_range[1], "%Y%m%d").date()
                high = dt.datetime.strptime(date_range[2], "%Y%m%d").date()
                entries = [e for e in entries if low <= e.published.date() <= high]
            for quoted, bare in _AUTHOR.findall(query):
                name = quoted or bare
                entries = [e for e in entries if any(author_matches(name, a) for a in e.authors)]
        return sorted(entries, key=lambda e: (e.published, e.id))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parsed = urlparse(self.path)
                params = parse_qs(parsed.query, keep_blank_values=True)
                with standin._lock:
                    standin.requests.append((time.monotonic(), params))
                    fault = standin.faults.popleft() if standin.faults else None
                if parsed.path != "/api/query":
                    self._send(404, "not found")
                    return
                if fault in ("429", "503"):
                    self._send(int(fault), f"fault {fault}")
                    return
                if fault == "timeout":
                    time.sleep(standin.timeout_delay)
                status, body = standin.answer(params)
                if fault == "truncated" and status == 200:
                    cut = body.rfind("<entry>")
                    body = body[: cut + 40] if cut > 0 else body[: len(body) // 2]
                elif fault == "empty" and status == 200:
                    body = re.sub(r"  <entry>.*?</entry>\n", "", body, flags=re.S)
                elif fault == "garbage":
                    body = "<html><body>Internal proxy error</body>"
                self._send(status, body)

            def _send(self, status: int, body: str) -> None:
                data = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    logger.debug("client went away before the answer")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                logger.debug("standin: " + format, *args)

        return Handler


def main(argv: list[str] | None = None) -> int:
    """``python -m app.demo.standin --listings DIR``: serve listings as the arXiv API until ^C,
    for trying the service offline (``ARXIV_RECO_ARXIV_API_URL=<the printed URL>``)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m app.demo.standin",
        description="A local arXiv export API serving daily listings (YYYY-MM-DD.jsonl.gz).",
    )
    parser.add_argument(
        "--listings",
        type=Path,
        default=Path(__file__).parent / "data" / "listings",
        help="folder of daily listing files (default: the demo's three days)",
    )
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    args = parser.parse_args(argv)
    if not listing_files(args.listings):
        parser.error(f"no YYYY-MM-DD.jsonl.gz listing files in {args.listings}")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    with ArxivStandIn(catalog_from_listings(args.listings), port=args.port) as standin:
        print(f"arXiv stand-in on {standin.url} (^C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
