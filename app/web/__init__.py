"""The reader's side: the page, the Atom feed and the email links, built on the API's
dependencies. Imports any room but the entry points and ``app.demo``; the API never imports it."""

from __future__ import annotations

from app.web import api_pages, email_label, feed, login, page, search_pages, seed, setup_pages
from app.web.templating import STATIC_DIR

ROUTERS = [
    page.router,
    feed.router,
    email_label.router,
    seed.router,
    setup_pages.router,
    login.router,
]
# A page asked for without a reader's token, once readers are made, signs in first.
EXCEPTION_HANDLERS = {login.SignInRequired: login.sign_in_first}
# Pages at the JSON API's own URLs, for browsers only (search_pages): matched before the API.
# search_pages first: its "/papers/{id}/similar" before api_pages' "/papers/{id}".
PAGES_AT_API_URLS = [search_pages.router, api_pages.router]

__all__ = ["EXCEPTION_HANDLERS", "PAGES_AT_API_URLS", "ROUTERS", "STATIC_DIR"]
