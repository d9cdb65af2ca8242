"""The reader's side: the page and the Atom feed, built on the API's dependencies."""

from __future__ import annotations

from app.web import email_label, feed, page
from app.web.templating import STATIC_DIR

ROUTERS = [page.router, feed.router, email_label.router]

__all__ = ["ROUTERS", "STATIC_DIR"]
