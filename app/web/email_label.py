"""The digest's label links (``app.digest.links``): a GET shows what the link would do and stores
nothing (mail clients and link scanners fetch links on their own), and the page's button POSTs
the same signed link, which stores the label without the API token, for that paper and answer
only. A changed, expired or another paper's link is refused with 403 and stores nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from app import crud
from app.api.deps import PaperIdPath, SessionDep, SettingsDep
from app.core.arxiv_ids import split_version
from app.core.config import Settings
from app.digest.compose import day_url
from app.digest.links import LABEL_PATH, LabelLink, LinkRefused, digest_key
from app.labels import set_label
from app.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

EMAIL_SOURCE = "email"
# The signed link is in the URL: no cache keeps the page, and no page it links to learns it.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}

InterestQuery = Annotated[int, Query(ge=0, le=1, description="1 interesting, 0 not")]
ExpiresQuery = Annotated[int, Query(ge=0, le=2**53, description="Unix seconds")]
SignatureQuery = Annotated[str, Query(max_length=128, description="HMAC-SHA256, hex")]


def _checked_link(
    settings: Settings, paper_id: str, interest: int, expires: int, sig: str
) -> LabelLink | str:
    """The link, or why it is refused."""
    link = LabelLink(paper_id=split_version(paper_id)[0], interest=interest, expires=expires)
    try:
        link.check(sig, digest_key(settings))
    except LinkRefused as err:
        return str(err)
    return link


def _page(request: Request, settings: Settings, status: int, **context: object) -> HTMLResponse:
    defaults: dict[str, object] = {
        "paper": None,
        "link": None,
        "refused": None,
        "stored": False,
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
    interest: InterestQuery,
    expires: ExpiresQuery,
    sig: SignatureQuery,
) -> HTMLResponse:
    """The page a digest's label link opens: the paper and one button that stores the label."""
    link = _checked_link(settings, paper_id, interest, expires, sig)
    if isinstance(link, str):
        return _page(request, settings, 403, refused=link)
    paper = crud.get_paper(session, paper_id=link.paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {link.paper_id} is not in the database")
    label = crud.labels_of(session, paper_ids=[paper.id]).get(paper.id)
    return _page(
        request,
        settings,
        200,
        paper=paper,
        link=link,
        current=label,
        day_url=day_url(settings, paper.submitted_on),
    )


@router.post(LABEL_PATH + "/{paper_id:path}", response_class=HTMLResponse)
def store_email_label(
    request: Request,
    paper_id: PaperIdPath,
    session: SessionDep,
    settings: SettingsDep,
    interest: InterestQuery,
    expires: ExpiresQuery,
    sig: SignatureQuery,
) -> HTMLResponse:
    """The confirmation page's button: stores the link's label (source ``email``)."""
    link = _checked_link(settings, paper_id, interest, expires, sig)
    if isinstance(link, str):
        return _page(request, settings, 403, refused=link)
    paper = crud.get_paper(session, paper_id=link.paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {link.paper_id} is not in the database")
    set_label(session, paper_id=paper.id, interest=link.interest, source=EMAIL_SOURCE)
    session.commit()
    return _page(
        request,
        settings,
        200,
        paper=paper,
        link=link,
        stored=True,
        current=link.interest,
        day_url=day_url(settings, paper.submitted_on),
    )
