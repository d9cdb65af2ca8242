"""The ``with_math`` filter: TeX math to MathML, everything else escaped, never a broken page."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from markupsafe import Markup

from app.web.latex import _ATTRIBUTES, _ELEMENTS, with_math
from app.web.templating import TEMPLATES


def _maths(html: str) -> list[str]:
    return re.findall(r"<math\b.*?</math>", html, re.DOTALL)


def _outside_math(html: str) -> str:
    return re.sub(r"<math\b.*?</math>", "", html, flags=re.DOTALL)


def _elements(html: str) -> set[str]:
    """The element names of the filter's output, parsed as XML (which it must be)."""
    root = ElementTree.fromstring(f"<root>{html}</root>")
    return {node.tag for node in root.iter()} - {"root"}


def _attributes(html: str) -> set[str]:
    root = ElementTree.fromstring(f"<root>{html}</root>")
    return {name for node in root.iter() for name in node.attrib}


@pytest.mark.parametrize(
    ("text", "tex_elements"),
    [
        ("a 2.12$\\times$ speedup", {"mo"}),
        ("in $O(n^2)$ time", {"msup", "mi", "mn"}),
        ("the loss $\\mathcal{L}$", {"mi"}),
        ("display $$\\frac{a}{b}$$ math", {"mfrac"}),
        ("paren \\(x_i\\) math", {"msub"}),
    ],
)
def test_math_becomes_mathml(text, tex_elements):
    html = with_math(text)
    assert isinstance(html, Markup)
    assert len(_maths(html)) == 1 and "$" not in html and "\\(" not in html
    assert tex_elements <= _elements(html)


def test_the_real_forms_of_arxiv_abstracts():
    html = with_math(
        "up to 15\\% ($\\pm$3\\%), $\\sim$21M samples, 256$\\times$256 images, "
        "$\\times$4 scaling, ($\\alpha = 3$) and $56$ times faster"
    )
    assert len(_maths(html)) == 6
    assert "15%" in html and "\\%" not in html
    assert "$" not in html


def test_text_around_and_inside_math_is_escaped():
    html = with_math('<script>alert("x")</script> & $a<b$ & "q" \'s\'')
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; " in html
    assert "<mo>&lt;</mo>" in html
    assert _elements(html) <= _ELEMENTS


@pytest.mark.parametrize(
    "text",
    [
        "costs $5 and $10 a month",
        "costs $5. We use $x$ here",
        "between $48-$74 per voter",
        "a budget of $1,000, or $ 2",
        "a lone $ in the text, then more text",
    ],
)
def test_a_lone_dollar_swallows_nothing(text):
    html = with_math(text)
    assert text.replace("$x$", "") == _outside_math(html).replace("&#39;", "'")
    assert len(_maths(html)) == text.count("$x$")


def test_an_escaped_dollar_is_a_dollar():
    assert with_math(r"price \$5 and \$6") == "price $5 and $6"


@pytest.mark.parametrize(
    "tex",
    ["$\\frac{a}{$", "$x^{$", "$\\left( x$", "$\\begin{matrix} a$", "$\\projectname$"],
)
def test_malformed_or_unknown_tex_is_left_as_escaped_text(tex):
    text = f"before {tex} & after <b>"
    html = with_math(text)
    assert _maths(html) == []
    assert html == str(Markup.escape(text))


@pytest.mark.parametrize(
    "text",
    [
        "$\\href{javascript:alert(1)}{x}$",
        "$\\style{color:red; background:url(javascript:alert(1))}{x}$",
        "$\\text{<img src=x onerror=alert(1)>}$",
        "$\\text{</math><script>alert(1)</script>}$",
        "$\\mathrm{\\&lt;script\\&gt;}$",
        '$\\operatorname{"><svg onload=alert(1)>}$',
        '$\\color{red" onmouseover="alert(1)} x$',
        "\\($\\href{data:text/html,<script>alert(1)</script>}{y}\\)",
    ],
)
def test_no_markup_or_attribute_from_the_input_passes(text):
    for links in (False, True):
        html = with_math(text, links=links)
        assert _elements(html) <= _ELEMENTS
        assert _attributes(html) <= set(_ATTRIBUTES)
        assert not re.search(r"<(?:script|img|svg|a)\b", html)


def test_an_https_link_is_a_link_only_when_asked():
    text = "Code: $\\href{https://github.com/a/b}{\\text{this https URL}}$."
    linked = with_math(text, links=True)
    assert linked.startswith('Code: <a href="https://github.com/a/b" target="_blank"')
    assert "<mtext>this\xa0https\xa0URL</mtext>" in linked
    plain = with_math(text)
    assert "<a " not in plain and "<mtext>this\xa0https\xa0URL</mtext>" in plain
    assert "<a " not in with_math("$\\href{javascript:alert(1)}{x}$", links=True)


def test_empty_and_missing_text():
    assert with_math("") == "" and with_math(None) == ""


def test_a_very_long_span_is_left_as_text():
    text = "$" + "x+" * 400 + "y$"
    assert with_math(text) == text


def test_the_filter_is_registered_for_every_template():
    template = TEMPLATES.env.from_string(
        "{{ title|with_math }} {{ abstract|with_math(links=True) }}"
    )
    html = template.render(title="<i>$x^2$</i>", abstract="$\\href{https://a.b/c}{d}$")
    assert html.startswith("&lt;i&gt;<math") and '<a href="https://a.b/c"' in html
