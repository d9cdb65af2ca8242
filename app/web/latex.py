"""TeX in titles and abstracts as MathML, rendered on the server (no script, no CDN).

``with_math(text)`` escapes the text and turns each ``$...$``, ``$$...$$`` or ``\\(...\\)`` span
into a ``<math>`` element. latex2mathml builds the element tree; it is written out here, not by
latex2mathml's own serializer, which un-escapes text (``\\text{<b>x</b>}`` would come out as raw
HTML). Only MathML elements and attributes on the lists below are written, every text and
attribute value escaped: ``\\href`` and ``\\style`` lose their attributes, and an element outside
the list makes the whole span fall back to its raw, escaped text. So does TeX that latex2mathml
cannot parse or a command it does not know: the reader sees the author's TeX, never a broken page.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from xml.etree.ElementTree import Element

from latex2mathml.converter import convert_to_element
from markupsafe import Markup, escape

logger = logging.getLogger(__name__)

# An escaped character (\$, \%, \&, \#, \_: the character); display math; \( inline \); inline
# math. A `$` opens only before a non-space and closes only after one (pandoc's rule), and a span
# that starts with a digit does not close before a digit: "costs $5 and $10" and "$48-$74" stay
# text, "$\times$4" is math. A span holds no unescaped `$`, so a lone dollar never swallows the
# text after it.
_SPANS = re.compile(
    r"\\(?P<escaped>[$%&#_])"
    r"|\$\$(?P<display>(?:[^$\\]|\\.)+?)\$\$"
    r"|\\\((?P<paren>(?:[^\\]|\\[^)])+?)\\\)"
    r"|\$(?P<inline>(?=[^\s$\d])(?:[^$\\]|\\.)*?)(?<=[^\s\\])\$"
    r"|\$(?P<number>(?=\d)(?:[^$\\]|\\.)*?)(?<=[^\s\\])\$(?!\d)",
    re.DOTALL,
)
MAX_TEX_CHARS = 500  # longer spans are more likely a stray pair of dollars than a formula

_ELEMENTS = frozenset(
    ("math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup")
    + ("mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd")
    + ("mstyle", "mpadded", "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts")
    + ("none",)
)
_BOOLEAN = re.compile(r"^(true|false)$")
_WORDS = re.compile(r"^[a-z][a-z -]*$")
_LENGTH = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(em|ex|px|pt|mu|%)?$|^[a-z]+mathspace$")
_ATTRIBUTES: dict[str, re.Pattern[str]] = {
    "display": re.compile(r"^(inline|block)$"),
    "mathvariant": _WORDS,
    "form": re.compile(r"^(prefix|infix|postfix)$"),
    "notation": _WORDS,
    "columnalign": _WORDS,
    "rowalign": _WORDS,
    "columnlines": _WORDS,
    "rowlines": _WORDS,
    "columnspacing": re.compile(r"^[0-9a-z. %-]+$"),
    "rowspacing": re.compile(r"^[0-9a-z. %-]+$"),
    "scriptlevel": re.compile(r"^[-+]?\d$"),
    **{
        name: _BOOLEAN
        for name in ("stretchy", "fence", "separator", "largeop", "movablelimits", "accent")
        + ("accentunder", "symmetric", "displaystyle")
    },
    **{
        name: _LENGTH
        for name in ("lspace", "rspace", "width", "height", "depth", "minsize", "maxsize")
        + ("linethickness", "voffset")
    },
}
_UNKNOWN_COMMAND = re.compile(r"^\\[A-Za-z]")
_HREF = re.compile(r"^\\href\{(?P<url>https?://[^\s{}<>\"'\\]+)\}\{(?P<text>.+)\}$", re.DOTALL)


class _Refused(ValueError):
    """The converter made something this module does not write out."""


def with_math(text: str | None, *, links: bool = False) -> Markup:
    """The text escaped, with its TeX math as MathML: the Jinja filter ``with_math``.

    With ``links``, arXiv's ``$\\href{https://...}{text}$`` becomes a link to that address (an
    http or https one only); without it (a title inside a link) the text alone is shown.
    """
    if not text:
        return Markup("")
    parts: list[str] = []
    position = 0
    for match in _SPANS.finditer(text):
        parts.append(escape(text[position : match.start()]))
        position = match.end()
        if match["escaped"]:
            parts.append(escape(match["escaped"]))
            continue
        tex = match["display"] or match["paren"] or match["inline"] or match["number"]
        link = _HREF.match(tex) if links else None
        mathml = tex_to_mathml(link["text"] if link else tex) if len(tex) <= MAX_TEX_CHARS else None
        if mathml is None:
            parts.append(escape(match.group()))
        elif link:
            url = escape(link["url"])
            parts.append(f'<a href="{url}" target="_blank" rel="noopener">{mathml}</a>')
        else:
            parts.append(mathml)
    parts.append(escape(text[position:]))
    return Markup("".join(parts))


@functools.lru_cache(maxsize=4096)
def tex_to_mathml(tex: str) -> str | None:
    """One formula as a safe ``<math>`` element, or None when it cannot be rendered faithfully."""
    try:
        root = convert_to_element(tex)
        return _write(root)
    except _Refused as err:
        logger.debug("math left as text (%s): %r", err, tex)
    except Exception as err:  # latex2mathml raises many kinds on malformed TeX
        logger.debug("math left as text (%s: %s): %r", type(err).__name__, err, tex)
    return None


def _write(node: Element) -> str:
    tag = node.tag
    if tag not in _ELEMENTS:
        raise _Refused(f"element {tag!r}")
    attributes = "".join(
        f' {name}="{escape(value)}"'
        for name, value in node.attrib.items()
        if name in _ATTRIBUTES and _ATTRIBUTES[name].match(value)
    )
    inner = [_text(node.text)]
    for child in node:
        inner.append(_write(child))
        inner.append(_text(child.tail))
    return f"<{tag}{attributes}>{''.join(inner)}</{tag}>"


def _text(value: str | None) -> str:
    if not value:
        return ""
    # latex2mathml keeps characters as entities (&#x000D7;) in the tree.
    plain = html.unescape(value)
    if _UNKNOWN_COMMAND.match(plain):
        raise _Refused(f"unknown command {plain!r}")
    return str(escape(plain))
