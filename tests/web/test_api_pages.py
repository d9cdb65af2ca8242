"""A browser at the API's URLs of a paper and of the service's state gets pages, any other
client the JSON (issue 17); every page has the service's icon."""

from __future__ import annotations

import datetime as dt
import re

from app.jobs.ingest import ingest_day
from app.main import ROUTERS
from tests.web.test_search_pages import HTML, _card, served  # noqa: F401 (a fixture)

PAPER = "2503.13531"


def test_a_paper_is_a_page_for_a_browser_and_json_for_the_rest(client, served):  # noqa: F811
    api = client.get(f"/papers/{PAPER}").json()
    page = client.get(f"/papers/{PAPER}v1", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["vary"] == "Accept"
    card = _card(page.text, PAPER)
    assert f"{api['probability'] * 100:.0f}%</div>" in card  # the API's score
    assert f'<a class="day" href="/?date={api["submitted_on"]}"' in card
    assert 'class="vote up"' in card and f'href="/papers/{PAPER}/similar"' in card
    recommended = re.search(r'<dd id="recommended">([^<(]*)', page.text)
    assert recommended is not None
    assert recommended[1].strip() == ("yes" if api["recommended"] else "no")
    missing = client.get("/papers/9999.99999", headers=HTML)
    assert missing.status_code == 404 and "is not in the database" in missing.text
    assert client.get("/papers/not-an-id", headers=HTML).status_code == 404
    assert client.get("/papers/9999.99999").json()["detail"].startswith("paper 9999.99999")


def test_the_status_is_a_page_for_a_browser_and_json_for_the_rest(
    client,
    served,  # noqa: F811
    sessions,
    settings,
    standin,
):
    standin.inject(*["503"] * (settings.retries + 1))
    ingest_day(sessions, dt.date(2025, 3, 24), settings)  # fails: a problem to show
    api = client.get("/status").json()
    page = client.get("/status", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = " ".join(page.text.split())
    assert api["warnings"] and all(w.split(":")[0] in text for w in api["warnings"])
    assert f"{api['model']['version']['name']} (v{api['model']['version']['id']}" in text
    assert f"<code>{api['schedule_cron']}</code>" in text
    for run in api["last_runs"]:
        assert f'<a href="/?date={run["day"]}">{run["day"]}</a>' in text
    assert '<td class="run-failed"' in text


def _html_pages() -> list[str]:
    pages = [
        route.path.replace("{paper_id:path}", PAPER)
        for router in ROUTERS
        for route in router.routes
        if "GET" in getattr(route, "methods", ())
    ]
    return sorted({p for p in pages if not p.startswith("/email/")} | {"/search?q=model"})


def test_every_page_links_the_services_icon(client, served):  # noqa: F811
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text == client.get("/static/favicon.svg").text and "<svg" in icon.text
    checked = 0
    for path in _html_pages():
        answer = client.get(path, headers=HTML)
        if not answer.headers["content-type"].startswith("text/html"):
            continue
        assert re.search(
            r'<link rel="(shortcut )?icon"[^>]*href="[^"]*(/static/favicon.svg|/favicon.ico)"',
            answer.text,
        ), path
        checked += 1
    assert checked >= 11  # the day page, search, similar, paper, status, docs, redoc, ...


def test_search_and_similar_cards_show_their_day(client, served):  # noqa: F811
    """Their papers come from many days: each card says its own (issue 17); the day page's
    cards are all of its day and do not repeat it."""
    api = client.get(f"/papers/{PAPER}").json()
    day_link = f'<a class="day" href="/?date={api["submitted_on"]}"'
    found = client.get("/search", params={"q": "multimodal art"}, headers=HTML).text
    assert day_link in _card(found, PAPER)
    similar = client.get(f"/papers/{PAPER}/similar", headers=HTML).text
    assert day_link in _card(similar, PAPER)
    assert re.findall(r'data-paper-id="[^"]+"', similar)[1:]  # its similar papers, dated too
    assert similar.count('<a class="day"') == similar.count('data-paper-id="')
    assert 'class="day"' not in client.get(f"/?date={api['submitted_on']}&all=true").text
