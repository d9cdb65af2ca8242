"""Signing in on the page, once readers are made: the reader's token, typed once, kept in an
HttpOnly, SameSite=Lax cookie (``app.api.deps.READER_COOKIE``) that every page and every
write of the page's scripts then carries. A page asked for without it sends the browser here,
and back to that page after. While no reader is made nothing asks to sign in.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import (
    READER_COOKIE,
    Caller,
    CredentialsDep,
    ServicesDep,
    current_reader,
    refuse_cross_site,
)
from app.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

COOKIE_SECONDS = 365 * 24 * 3600
MAX_TOKEN = 200


class SignInRequired(Exception):
    """A page asked for without a reader's token, once readers are made."""

    def __init__(self, back_to: str):
        self.back_to = back_to


def page_caller(request: Request, services: ServicesDep, credentials: CredentialsDep) -> Caller:
    """The reader a page is for; a browser without a reader's token is sent to sign in."""
    try:
        return current_reader(request, services, credentials)
    except HTTPException as err:
        if err.status_code not in (401, 403):
            raise
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(back) from None


PageCallerDep = Annotated[Caller, Depends(page_caller)]


async def sign_in_first(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    return RedirectResponse(f"/login?next={quote(error.back_to, safe='')}", status_code=303)


def _local(next_url: str) -> str:
    """Only a path of this service: never another site (an open redirect)."""
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    return next_url


def _page(request: Request, status: int, **context: object) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"next": "/", "error": None, "signed_out": False, **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/login", response_class=HTMLResponse, name="login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
    return _page(request, 200, next=_local(next[:2000]))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Form(max_length=MAX_TOKEN)],
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002
) -> Response:
    """Check the token and keep it in the cookie; another site's form cannot sign anyone in."""
    refuse_cross_site(request, services)
    back = _local(next)
    token = token.strip()
    if services.readers.find(token) is None:
        return _page(
            request,
            401,
            next=back,
            error="That is not a reader's token here. Ask whoever runs this service for yours.",
        )
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        READER_COOKIE,
        token,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, services: ServicesDep) -> Response:
    refuse_cross_site(request, services)
    response = _page(request, 200, signed_out=True)
    response.delete_cookie(READER_COOKIE, path="/", httponly=True, samesite="lax")
    return response
