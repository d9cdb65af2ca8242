"""Templates and static files of the page and the feed.

Every page's templates share these filters: ``with_math`` (``app.web.latex``) escapes a title or
an abstract and renders its TeX math as MathML; ``with_math(links=True)`` also makes arXiv's
``$\\href{https://...}{text}$`` a link (not inside another link, such as a card's title).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import select_autoescape

from app.web.latex import with_math

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Jinja's default leaves .atom unescaped: a title with "&" or "<" broke the feed's XML.
TEMPLATES.env.autoescape = select_autoescape(["html", "htm", "xml", "atom"])
TEMPLATES.env.filters["with_math"] = with_math
STATIC_DIR = Path(__file__).parent / "static"
