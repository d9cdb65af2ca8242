"""What one digest email says: which day it is for, its recommended papers, and the email.

The day: the newest weekday with listed papers (a successful ingestion that fetched some) later
than the last day a digest was sent for. A Monday's digest also carries the Saturday and Sunday
before it, whose papers no weekday's digest would otherwise show. A day that was never sent
because a newer one came first is not sent later: the page has it, and the email says so when
its send had failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.digest.links import digest_key, label_link
from app.serving.day import list_day
from app.serving.holder import LoadedModel
from app.serving.reasons import reasons_for
from app.store import queries
from app.store.schema import DEFAULT_TOPIC_ID, Paper, Topic

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
    label: int | None  # the label it already has in the section's topic
    also: list[str] = field(default_factory=list)  # the other topics that recommend it


@dataclass(frozen=True)
class DigestSection:
    day: dt.date
    papers: list[DigestPaper]
    listed: int  # papers stored for the day
    recommended: int
    pending: int  # not scored yet
    page_url: str
    elsewhere: int = 0  # recommended here too, but shown under an earlier topic

    @property
    def left_out(self) -> int:
        return self.recommended - self.elsewhere - len(self.papers)


@dataclass(frozen=True)
class DigestTopic:
    """One topic's part of the digest: its days, chosen by its own active model."""

    name: str
    model_name: str
    sections: list[DigestSection]
    default: bool  # the default topic: its page links carry no ?topic=


@dataclass(frozen=True)
class Digest:
    day: dt.date
    topics: list[DigestTopic]  # in the reader's order; only topics with an active model
    recommended: int  # papers recommended by any topic, each once
    links_expire: dt.datetime
    missed_day: dt.date | None  # an earlier day whose digest failed and is not sent again
    missed_url: str | None

    @property
    def sections(self) -> list[DigestSection]:
        return [section for topic in self.topics for section in topic.sections]

    @property
    def titled(self) -> bool:
        """Whether the email names its topics: not when the default topic is all it has."""
        return len(self.topics) > 1 or any(not topic.default for topic in self.topics)

    @property
    def model_name(self) -> str:
        return ", ".join(topic.model_name for topic in self.topics)

    @property
    def paper_count(self) -> int:
        return sum(len(s.papers) for s in self.sections)

    @property
    def subject(self) -> str:
        count = self.recommended
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
    models: LoadedModel | Sequence[LoadedModel],
    day: dt.date,
    *,
    last_sent: dt.date | None = None,
    missed_day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Digest:
    """The digest of ``day`` (and a Monday's weekend): a part per topic, each topic's active
    model in ``models`` in the reader's order. A paper recommended by several topics is shown
    once, under the first, naming the others; at most ``MAX_PAPERS`` in all."""
    now = now or dt.datetime.now(dt.timezone.utc)
    key = digest_key(settings)
    models = [models] if isinstance(models, LoadedModel) else list(models)
    days = digest_days(session, day, last_sent=last_sent)
    names = {
        topic.id: topic.name
        for topic in session.scalars(
            select(Topic).where(Topic.id.in_([model.topic_id for model in models]))
        )
    }
    models = [model for model in models if model.topic_id in names]
    # Every topic's recommended papers first: a paper's first topic and the others that like it.
    lists = {
        (model.topic_id, section_day): list_day(session, day=section_day, model=model, labels=True)
        for model in models
        for section_day in days
    }
    liked_by: dict[str, list[str]] = {}
    for model in models:
        for section_day in days:
            for item in lists[model.topic_id, section_day].papers:
                liked_by.setdefault(item.paper.id, []).append(names[model.topic_id])
    room, parts, shown_ids = MAX_PAPERS, [], set[str]()
    for model in models:
        name, sections = names[model.topic_id], []
        for section_day in days:
            result = lists[model.topic_id, section_day]
            mine = [item for item in result.papers if liked_by[item.paper.id][0] == name]
            shown = mine[: max(room, 0)]
            room -= len(shown)
            # Shown under an earlier topic: not those the earlier part had no room for.
            elsewhere = sum(item.paper.id in shown_ids for item in result.papers)
            shown_ids.update(item.paper.id for item in shown)
            reasons = reasons_for(session, model, [item.paper for item in shown])
            sections.append(
                DigestSection(
                    day=section_day,
                    papers=[
                        _digest_paper(
                            item.paper,
                            item.probability or 0.0,
                            reasons=reasons.get(item.paper.id, []),
                            label=item.label,
                            also=[other for other in liked_by[item.paper.id] if other != name],
                            topic_id=model.topic_id,
                            settings=settings,
                            key=key,
                            now=now,
                        )
                        for item in shown
                    ],
                    listed=result.total,
                    recommended=result.recommended,
                    pending=result.pending,
                    page_url=day_url(settings, section_day, topic_id=model.topic_id),
                    elsewhere=elsewhere,
                )
            )
        parts.append(
            DigestTopic(
                name=name,
                model_name=model.name,
                sections=sections,
                default=model.topic_id == DEFAULT_TOPIC_ID,
            )
        )
    return Digest(
        day=day,
        topics=parts,
        recommended=len(liked_by),
        links_expire=now + dt.timedelta(days=settings.digest_link_days),
        missed_day=missed_day,
        missed_url=day_url(settings, missed_day) if missed_day else None,
    )


def day_url(settings: Settings, day: dt.date, *, topic_id: int = DEFAULT_TOPIC_ID) -> str:
    """The page of ``day`` in a topic, named by its id: an email's link stays good when the
    topic is renamed."""
    query = "" if topic_id == DEFAULT_TOPIC_ID else f"&topic_id={topic_id}"
    return f"{settings.public_url}/?date={day.isoformat()}{query}"


def _digest_paper(
    paper: Paper,
    probability: float,
    *,
    reasons: list[str],
    label: int | None,
    also: list[str],
    topic_id: int,
    settings: Settings,
    key: bytes,
    now: dt.datetime,
) -> DigestPaper:
    base = settings.public_url

    def link(interest: int) -> str:
        made = label_link(paper.id, interest, settings=settings, now=now, topic_id=topic_id)
        return made.url(base, key)

    return DigestPaper(
        id=paper.id,
        title=" ".join(paper.title.split()),
        authors=_authors(paper.authors or []),
        abstract_start=first_lines(paper.abstract),
        probability=probability,
        reasons=reasons,
        abs_url=paper.abs_url or f"https://arxiv.org/abs/{paper.id}",
        pdf_url=paper.pdf_url,
        interesting_url=link(1),
        not_interesting_url=link(0),
        label=label,
        also=also,
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
