"""What one digest email says: which day it is for, its recommended papers, and the email.

The day: the newest weekday with listed papers (a successful ingestion that fetched some) later
than the last day a digest was sent for. A Monday's digest also carries the Saturday and Sunday
before it, whose papers no weekday's digest would otherwise show. A day that was never sent
because a newer one came first is not sent later: the page has it, and the email says so when
its send had failed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.digest.links import digest_key, label_link
from app.serving.day import list_day
from app.serving.holder import LoadedModel
from app.store import queries
from app.store.schema import Paper

# More than this in one email are left to the page (the email says how many).
MAX_PAPERS = 40
ABSTRACT_CHARS = 320
AUTHORS_SHOWN = 6

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class DigestPaper:
    id: str
    title: str
    authors: str
    abstract_start: str
    probability: float
    reasons: list[str]
    abs_url: str
    pdf_url: str | None
    interesting_url: str
    not_interesting_url: str
    label: int | None  # the label it already has


@dataclass(frozen=True)
class DigestSection:
    day: dt.date
    papers: list[DigestPaper]
    listed: int  # papers stored for the day
    recommended: int
    pending: int  # not scored yet
    page_url: str

    @property
    def left_out(self) -> int:
        return self.recommended - len(self.papers)


@dataclass(frozen=True)
class Digest:
    day: dt.date
    sections: list[DigestSection]
    model_name: str
    links_expire: dt.datetime
    missed_day: dt.date | None  # an earlier day whose digest failed and is not sent again
    missed_url: str | None

    @property
    def paper_count(self) -> int:
        return sum(len(s.papers) for s in self.sections)

    @property
    def subject(self) -> str:
        count = sum(s.recommended for s in self.sections)
        papers = "1 paper" if count == 1 else f"{count} papers"
        return f"arXiv picks for {self.day:%a %Y-%m-%d}: {papers}"

    def text(self) -> str:
        return _TEMPLATES.get_template("digest.txt").render(digest=self)

    def html(self) -> str:
        return _TEMPLATES.get_template("digest.html").render(digest=self)


def next_digest_day(session: Session, *, last_sent: dt.date | None) -> dt.date | None:
    """The newest weekday with listed papers later than ``last_sent``; None when there is none."""
    return next(
        (d for d in queries.listing_days(session, after=last_sent) if d.weekday() < 5), None
    )


def digest_days(session: Session, day: dt.date, *, last_sent: dt.date | None) -> list[dt.date]:
    """``day`` and, for a Monday, the weekend days before it that have papers and were not
    sent, newest first."""
    if day.weekday() != 0:
        return [day]
    weekend = {day - dt.timedelta(days=n) for n in (1, 2)}
    since = max(last_sent or dt.date.min, day - dt.timedelta(days=3))
    return [day] + [d for d in queries.listing_days(session, after=since) if d in weekend]


def build_digest(
    session: Session,
    settings: Settings,
    model: LoadedModel,
    day: dt.date,
    *,
    last_sent: dt.date | None = None,
    missed_day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Digest:
    now = now or dt.datetime.now(dt.timezone.utc)
    key = digest_key(settings)
    sections, room = [], MAX_PAPERS
    for section_day in digest_days(session, day, last_sent=last_sent):
        result = list_day(
            session, day=section_day, model=model, limit=room, labels=True, explain=True
        )
        room -= len(result.papers)
        sections.append(
            DigestSection(
                day=section_day,
                papers=[
                    _digest_paper(
                        item.paper,
                        item.probability or 0.0,
                        reasons=item.reasons or [],
                        label=item.label,
                        settings=settings,
                        key=key,
                        now=now,
                    )
                    for item in result.papers
                ],
                listed=result.total,
                recommended=result.recommended,
                pending=result.pending,
                page_url=day_url(settings, section_day),
            )
        )
    return Digest(
        day=day,
        sections=sections,
        model_name=model.name,
        links_expire=now + dt.timedelta(days=settings.digest_link_days),
        missed_day=missed_day,
        missed_url=day_url(settings, missed_day) if missed_day else None,
    )


def day_url(settings: Settings, day: dt.date) -> str:
    return f"{settings.public_url}/?date={day.isoformat()}"


def _digest_paper(
    paper: Paper,
    probability: float,
    *,
    reasons: list[str],
    label: int | None,
    settings: Settings,
    key: bytes,
    now: dt.datetime,
) -> DigestPaper:
    base = settings.public_url
    return DigestPaper(
        id=paper.id,
        title=" ".join(paper.title.split()),
        authors=_authors(paper.authors or []),
        abstract_start=first_lines(paper.abstract),
        probability=probability,
        reasons=reasons,
        abs_url=paper.abs_url or f"https://arxiv.org/abs/{paper.id}",
        pdf_url=paper.pdf_url,
        interesting_url=label_link(paper.id, 1, settings=settings, now=now).url(base, key),
        not_interesting_url=label_link(paper.id, 0, settings=settings, now=now).url(base, key),
        label=label,
    )


def _authors(names: list[str]) -> str:
    if len(names) <= AUTHORS_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:AUTHORS_SHOWN]) + f" and {len(names) - AUTHORS_SHOWN} more"


def first_lines(abstract: str, limit: int = ABSTRACT_CHARS) -> str:
    """The abstract's opening, whole sentences where they fit in ``limit`` characters."""
    text = " ".join(abstract.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    if end >= limit // 3:
        return cut[: end + 1]
    return cut[: cut.rfind(" ")].rstrip(",;:") + " …"


def email_message(
    settings: Settings, digest: Digest, *, now: dt.datetime | None = None
) -> EmailMessage:
    """The email: a plain-text part and an HTML part (multipart/alternative)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    sender = settings.digest_sender
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = ", ".join(settings.digest_to)
    message["Date"] = format_datetime(now)
    # Its domain from the sender: make_msgid's default asks DNS for this machine's name.
    message["Message-ID"] = make_msgid(
        "arxiv-reco", domain=sender.rpartition("@")[2] or "localhost"
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest.text())
    message.add_alternative(digest.html(), subtype="html")
    return message
