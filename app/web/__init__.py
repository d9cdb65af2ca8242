"""The reader's side: the page and the Atom feed, built on the API's dependencies."""

from __future__ import annotations

from app.web import feed, page
from app.web.templating import STATIC_DIR

ROUTERS = [page.router, feed.router]

__all__ = ["ROUTERS", "STATIC_DIR"]
