"""The digest's label links (``app.digest.links``): a GET shows what the link would do and stores
nothing (mail clients and link scanners fetch links on their own), and the page's button POSTs
the same signed link, which stores the label without the API token, for that paper and answer
only. A changed, expired or another paper's link is refused with 403 and stores nothing, as is a
POST sent by another site; a label given after the link was issued stays (409)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api.deps import PaperIdPath, ServicesDep, SessionDep, SettingsDep
from app.core.arxiv_ids import split_version
from app.core.config import Settings
from app.digest.compose import day_url
from app.digest.links import LABEL_PATH, LabelLink, LinkRefused, digest_key
from app.store import queries
from app.store.labels import set_label
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper, Topic
from app.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

EMAIL_SOURCE = "email"
# The signed link is in the URL: no cache keeps the page, and no other site it links to learns
# it. (same-origin, not no-referrer: with no-referrer a browser sends its button's POST with
# "Origin: null", which the cross-site check cannot tell from another site's.)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
}

InterestQuery = Annotated[int, Query(ge=0, le=1, description="1 interesting, 0 not")]
ExpiresQuery = Annotated[int, Query(ge=0, le=2**53, description="Unix seconds")]
IssuedQuery = Annotated[int | None, Query(ge=0, le=2**53, description="Unix seconds")]
SignatureQuery = Annotated[str, Query(max_length=128, description="HMAC-SHA256, hex")]
TopicIdQuery = Annotated[
    int, Query(ge=1, le=2**53, description="The topic's id; absent: the default topic")
]

OLD_LINK = (
    "this link comes from an older digest, which did not say when it was sent; label the "
    "paper on the page instead"
)
GONE_TOPIC = "the topic this link labels in was deleted since the email was sent"
CROSS_SITE = (
    "this confirmation was sent by another site, not by the page the email's link opens; "
    "open the link from the email and press its button"
)


@dataclass
class LinkQuery:
    """The signed link's query, as both routes read it."""

    interest: InterestQuery
    expires: ExpiresQuery
    sig: SignatureQuery
    issued: IssuedQuery = None
    topic_id: TopicIdQuery = DEFAULT_TOPIC_ID


LinkQueryDep = Annotated[LinkQuery, Depends()]


@dataclass(frozen=True)
class OpenedLink:
    link: LabelLink
    paper: Paper
    topic: Topic
    label: Label | None  # the paper's label in the topic now


def _open_link(
    session: Session, settings: Settings, paper_id: str, query: LinkQuery
) -> OpenedLink | str:
    """The checked link with its paper and the paper's label, or why the link is refused; 404
    when the link is good but the paper is not stored."""
    if query.issued is None:
        return OLD_LINK
    link = LabelLink(
        paper_id=split_version(paper_id)[0],
        interest=query.interest,
        expires=query.expires,
        issued=query.issued,
        topic_id=query.topic_id,
    )
    try:
        link.check(query.sig, digest_key(settings))
    except LinkRefused as err:
        return str(err)
    topic = session.get(Topic, link.topic_id)
    if topic is None:
        return GONE_TOPIC
    paper = queries.get_paper(session, paper_id=link.paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {link.paper_id} is not in the database")
    label = session.get(Label, (topic.id, paper.id))
    return OpenedLink(link=link, paper=paper, topic=topic, label=label)


def _shown_topic(topic: Topic) -> str | None:
    """The topic's name where the page names it: not for the default topic."""
    return None if topic.id == DEFAULT_TOPIC_ID else topic.name


def _day_url(settings: Settings, opened: OpenedLink) -> str:
    return day_url(settings, opened.paper.submitted_on, topic_id=opened.topic.id)


def _later_label(label: Label | None, link: LabelLink) -> Label | None:
    """The paper's label when it was given after the link was issued: the link must not
    override it."""
    if label is not None and link.predates(label.updated_at):
        return label
    return None


def _page(request: Request, settings: Settings, status: int, **context: object) -> HTMLResponse:
    defaults: dict[str, object] = {
        "paper": None,
        "link": None,
        "refused": None,
        "stored": False,
        "later": None,
        "topic": None,
        "home_url": settings.public_url + "/",
    }
    return TEMPLATES.TemplateResponse(
        request,
        "email_label.html",
        {**defaults, **context},
        status_code=status,
        headers=_HEADERS,
    )


@router.get(LABEL_PATH + "/{paper_id:path}", response_class=HTMLResponse)
def confirm_email_label(
    request: Request,
    paper_id: PaperIdPath,
    session: SessionDep,
    settings: SettingsDep,
    query: LinkQueryDep,
) -> HTMLResponse:
    """The page a digest's label link opens: the paper and one button that stores the label
    (none when the reader labelled the paper after the email was sent)."""
    opened = _open_link(session, settings, paper_id, query)
    if isinstance(opened, str):
        return _page(request, settings, 403, refused=opened)
    label = opened.label
    return _page(
        request,
        settings,
        200,
        paper=opened.paper,
        link=opened.link,
        topic=_shown_topic(opened.topic),
        current=None if label is None else label.interest,
        later=_later_label(label, opened.link),
        day_url=_day_url(settings, opened),
    )


@router.post(LABEL_PATH + "/{paper_id:path}", response_class=HTMLResponse)
def store_email_label(
    request: Request,
    paper_id: PaperIdPath,
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    query: LinkQueryDep,
) -> HTMLResponse:
    """The confirmation page's button: stores the link's label (source ``email``), unless the
    POST comes from another site or the reader labelled the paper after the link was issued."""
    if services.access.from_another_site(
        origin=request.headers.get("origin"),
        fetch_site=request.headers.get("sec-fetch-site"),
        host_header=request.headers.get("host", ""),
    ):
        return _page(request, settings, 403, refused=CROSS_SITE)
    opened = _open_link(session, settings, paper_id, query)
    if isinstance(opened, str):
        return _page(request, settings, 403, refused=opened)
    link, paper = opened.link, opened.paper
    shown = {
        "paper": paper,
        "link": link,
        "topic": _shown_topic(opened.topic),
        "day_url": _day_url(settings, opened),
    }
    later = _later_label(opened.label, link)
    if later is not None and later.interest != link.interest:
        return _page(request, settings, 409, **shown, current=later.interest, later=later)
    set_label(
        session,
        paper_id=paper.id,
        interest=link.interest,
        source=EMAIL_SOURCE,
        topic_id=opened.topic.id,
    )
    session.commit()
    return _page(request, settings, 200, **shown, stored=True, current=link.interest)
