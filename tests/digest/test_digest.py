"""The daily digest by email, against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from app.cli import main
from app.core.db import session_scope
from app.digest.compose import digest_days, next_digest_day
from app.digest.links import LabelLink, digest_key
from app.digest.service import RETRY_SECONDS, send_daily_digest
from app.digest.state import DigestState, load_state, save_state
from app.jobs.scheduler import DailyJob
from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, IngestRun, Label, Paper
from tests.digest.conftest import FRIDAY, SATURDAY, label_links, parts
from tests.factories import local_client
from tests.live import free_port


def _recommended(settings, day: dt.date) -> list[dict]:
    with local_client(create_app(settings)) as client:
        answer = client.get("/recommendations", params={"date": day.isoformat()})
    assert answer.status_code == 200
    return answer.json()["papers"]


def test_the_daily_run_emails_the_newest_day_once(
    sessions, digest_settings, holder, tfidf_model, inbox
):
    job = DailyJob(sessions, digest_settings, holder)
    reports = job.run(trigger="schedule", today=SATURDAY)
    assert [r.status for r in reports] == ["success"] * 3
    (message,) = inbox.messages
    assert inbox.recipients == [["reader@example.org"]]
    papers = _recommended(digest_settings, FRIDAY)
    assert papers, "the fixture model recommends some of Friday's papers"
    assert message["Subject"] == f"arXiv picks for Fri 2025-03-21: {len(papers)} papers"
    assert message["From"] == "reco@example.org" and message["To"] == "reader@example.org"
    text, html_part = parts(message)
    for part in (text, html_part):
        assert "http://127.0.0.1:8000/?date=2025-03-21" in part  # the day on the page
        for paper in papers:
            assert f"https://arxiv.org/abs/{paper['id']}" in part
    for paper in papers:
        assert " ".join(paper["title"].split())[:40] in " ".join(text.split())
    links = label_links(html_part)
    assert len(links) == 2 * len(papers)
    assert {urlsplit(url).path.removeprefix("/email/label/") for url in links} == {
        p["id"] for p in papers
    }
    assert all(url in text for url in links)
    # The reasons of a tfidf model: terms, authors or comment words.
    assert "because of" in html_part
    assert load_state(digest_settings).last_day_sent == FRIDAY

    job.run(trigger="schedule", today=SATURDAY)  # nothing new: no second email
    assert len(inbox.messages) == 1


def _remote_client(settings) -> TestClient:
    """A browser on another machine, with no API token: no write of the API is open to it."""
    return TestClient(
        create_app(settings.model_copy(update={"api_token": SecretStr("t" * 32)})),
        base_url="http://127.0.0.1:8000",
        client=("198.51.100.7", 40000),
    )


def _label(sessions, paper_id: str) -> tuple[int, str] | None:
    with sessions() as session:
        label = session.get(Label, (DEFAULT_TOPIC_ID, paper_id))
        return None if label is None else (label.interest, label.source)


def test_a_label_link_labels_its_paper_only_after_the_confirmation(
    sessions, digest_settings, holder, tfidf_model, inbox
):
    DailyJob(sessions, digest_settings, holder).run(trigger="schedule", today=SATURDAY)
    links = label_links(parts(inbox.messages[0])[1])
    interesting, not_interesting = links[0], links[3]  # the first paper's ✓, the second's ✕
    first = urlsplit(interesting).path.removeprefix("/email/label/")
    second = urlsplit(not_interesting).path.removeprefix("/email/label/")
    with _remote_client(digest_settings) as client:
        assert client.post(f"/papers/{first}/label", json={"interest": 1}).status_code == 401
        page = client.get(interesting)  # what a mail scanner fetching the link does
        assert page.status_code == 200 and '<form method="post">' in page.text
        assert page.headers["referrer-policy"] == "same-origin"
        assert "Mark this paper interesting?" in page.text
        assert _label(sessions, first) is None
        stored = client.post(interesting)  # the page's button
        assert stored.status_code == 200 and "Saved: interesting" in stored.text
        assert client.post(not_interesting).status_code == 200
    assert _label(sessions, first) == (1, "email")
    assert _label(sessions, second) == (0, "email")


def _link(paper_id: str, interest: int, expires: int, key: bytes) -> str:
    issued = int(dt.datetime.now(dt.timezone.utc).timestamp())
    return LabelLink(paper_id, interest, expires, issued).url("http://127.0.0.1:8000", key)


@pytest.mark.parametrize(
    "case",
    [
        "interest changed",
        "expiry changed",
        "issue time changed",
        "an older digest's (no issue time)",
        "another paper",
        "expired",
        "no signature",
    ],
)
def test_a_changed_expired_or_another_papers_link_labels_nothing(case, sessions, settings, friday):
    with sessions() as session:
        first, other = session.scalars(
            select(Paper.id).where(Paper.submitted_on == friday).order_by(Paper.id).limit(2)
        ).all()
    key = digest_key(settings)
    later = int((dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).timestamp())
    good = _link(first, 1, later, key)
    url = {
        "interest changed": good.replace("interest=1", "interest=0"),
        "expiry changed": good.replace(f"expires={later}", f"expires={later + 86400}"),
        "issue time changed": re.sub(r"issued=(\d+)", lambda m: f"issued={int(m[1]) + 60}", good),
        "an older digest's (no issue time)": re.sub(r"&issued=\d+", "", good),
        "another paper": good.replace(f"/email/label/{first}?", f"/email/label/{other}?"),
        "expired": _link(first, 1, later - 4 * 86400, key),
        "no signature": good.split("&sig=")[0] + "&sig=" + "0" * 64,
    }[case]
    with _remote_client(settings) as client:
        assert client.get(good).status_code == 200  # the link itself would do
        for answer in (client.get(url), client.post(url)):
            assert answer.status_code == 403
            assert "This link cannot label anything" in answer.text
    assert _label(sessions, first) is None and _label(sessions, other) is None


def test_a_link_never_undoes_a_later_label_and_its_button_takes_no_cross_site_post(
    sessions, digest_settings, holder, tfidf_model, inbox
):
    """Issue 17: a digest's ✓ clicked after the reader marked the paper ✕ on the page made it
    ✓ again (the older answer won), and the confirming POST was taken from any site."""
    DailyJob(sessions, digest_settings, holder).run(trigger="schedule", today=SATURDAY)
    links = label_links(parts(inbox.messages[0])[1])
    interesting, not_interesting = links[0], links[1]  # the first paper's ✓ and ✕
    paper_id = urlsplit(interesting).path.removeprefix("/email/label/")
    with _remote_client(digest_settings) as client:
        for cross_site in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = client.post(interesting, headers=cross_site)
            assert refused.status_code == 403 and "sent by another site" in refused.text
        assert _label(sessions, paper_id) is None
        own_page = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
        assert client.post(interesting, headers=own_page).status_code == 200
        assert _label(sessions, paper_id) == (1, "email")

        # The reader changes their mind on the page: the digest's links no longer undo it.
        page = {"Authorization": "Bearer " + "t" * 32}
        relabelled = client.post(f"/papers/{paper_id}/label", json={"interest": 0}, headers=page)
        assert relabelled.status_code == 200
        shown = client.get(interesting)
        assert shown.status_code == 200 and '<form method="post">' not in shown.text
        assert "You marked it not interesting on " in shown.text
        assert "after this email was sent, so this link leaves it as it is" in shown.text
        replayed = client.post(interesting)
        assert replayed.status_code == 409 and "after this email was sent" in replayed.text
        assert _label(sessions, paper_id) == (0, "web")
        # The link that agrees with the later label changes nothing and says it is saved.
        agreeing = client.post(not_interesting)
        assert agreeing.status_code == 200 and "Saved: not interesting" in agreeing.text
        assert _label(sessions, paper_id)[0] == 0


def _digest_problems(client) -> list[str]:
    health = client.get("/health").json()
    assert health["problems"] == client.get("/status").json()["warnings"]
    return [p for p in health["problems"] if "digest" in p]


def test_a_failed_send_is_shown_and_the_next_run_sends_it(
    sessions, digest_settings, holder, tfidf_model, inbox
):
    closed = digest_settings.model_copy(update={"smtp_port": free_port()})  # nothing listens
    job = DailyJob(sessions, closed, holder)
    reports = job.run(trigger="schedule", today=SATURDAY)
    assert [r.status for r in reports] == ["success"] * 3  # the ingestion is not touched
    assert inbox.messages == []
    state = load_state(closed)
    assert (state.failed_day, state.attempts, state.last_day_sent) == (FRIDAY, 1, None)
    with local_client(create_app(closed)) as client:
        (problem,) = _digest_problems(client)
        assert problem.startswith("the daily digest of 2025-03-21 could not be sent (1 tries")
        assert "ConnectionRefusedError" in problem
        assert client.get("/health").json()["status"] == "degraded"

        job.settings = digest_settings  # the server is back
        job.run(trigger="schedule", today=SATURDAY)
        (message,) = inbox.messages
        assert "2025-03-21" in message["Subject"]
        assert _digest_problems(client) == []
    state = load_state(digest_settings)
    assert (state.last_day_sent, state.failed_day, state.last_error) == (FRIDAY, None, None)


def test_a_passing_failure_is_retried_within_the_run(
    sessions, digest_settings, holder, holders, friday, inbox
):
    inbox.refuse_next = 1  # 451: try again later
    waits: list[float] = []
    retrying = digest_settings.model_copy(update={"smtp_retries": 2})
    outcome = send_daily_digest(sessions, retrying, holders, sleep=waits.append)
    assert outcome is not None and (outcome.sent, outcome.tries, outcome.day) == (True, 2, friday)
    assert waits == [RETRY_SECONDS] and len(inbox.messages) == 1
    assert load_state(retrying).attempts == 0


def test_a_refusal_is_not_retried_within_the_run(
    sessions, digest_settings, holder, holders, friday, inbox
):
    inbox.unknown.add("reader@example.org")
    waits: list[float] = []
    retrying = digest_settings.model_copy(update={"smtp_retries": 2})
    outcome = send_daily_digest(sessions, retrying, holders, sleep=waits.append)
    assert outcome is not None and not outcome.sent and outcome.tries == 1 and waits == []
    assert "SMTPRecipientsRefused" in (outcome.error or "") and "no such mailbox" in outcome.error
    assert load_state(retrying).failed_day == friday and inbox.messages == []


def test_a_day_overtaken_before_it_was_sent_is_named_in_the_next_email(
    sessions, digest_settings, holder, holders, friday, inbox
):
    thursday = friday - dt.timedelta(days=1)
    save_state(
        digest_settings,
        DigestState(failed_day=thursday, last_error="ConnectionRefusedError", attempts=3),
    )
    outcome = send_daily_digest(sessions, digest_settings, holders)
    assert outcome is not None and outcome.sent and outcome.day == friday
    text, html_part = parts(inbox.messages[0])
    assert "The digest of 2025-03-20 could not be sent" in " ".join(text.split())
    assert "http://127.0.0.1:8000/?date=2025-03-20" in html_part
    assert load_state(digest_settings) == DigestState(
        last_day_sent=friday, last_sent_at=load_state(digest_settings).last_sent_at
    )


@pytest.mark.parametrize(
    ("listed", "last_sent", "day", "days"),
    [
        # Friday, a Saturday with papers, an empty Sunday, Monday: Monday carries Saturday.
        ({21: 5, 22: 2, 23: 0, 24: 3}, 21, 24, [24, 22]),
        ({21: 5, 22: 2, 23: 1, 24: 3}, None, 24, [24, 23, 22]),
        ({21: 5, 22: 2, 23: 1, 24: 3}, 24, None, None),
        # A weekend day alone waits for Monday's digest.
        ({21: 5, 22: 2}, 21, None, None),
        ({19: 5, 20: 4}, None, 20, [20]),
        ({19: 5, 20: 0}, None, 19, [19]),  # a day whose ingestion found nothing is no day
    ],
)
def test_which_day_a_digest_is_for(sessions, listed, last_sent, day, days):
    def march(number: int | None) -> dt.date | None:
        return None if number is None else dt.date(2025, 3, number)

    with session_scope(sessions) as session:
        for number, fetched in listed.items():
            session.add(IngestRun(day=march(number), status="success", fetched=fetched))
    with sessions() as session:
        found = next_digest_day(session, last_sent=march(last_sent))
        assert found == march(day)
        if found is not None:
            assert digest_days(session, found, last_sent=march(last_sent)) == [
                march(n) for n in days
            ]


def test_a_digest_by_hand_dry_run_then_sent(
    monkeypatch, capsys, tmp_path, settings, friday, smtp, inbox
):
    for name, value in {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.resolved_database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp[1]),
        "SMTP_TLS": "none",
        "DIGEST_FROM": "reco@example.org",
        "DIGEST_TO": "reader@example.org, second@example.org",
        "PUBLIC_URL": "https://reco.example.org/",
    }.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name}", value)
    html_file = tmp_path / "digest.html"
    assert main(["digest", "--date", "2025-03-21", "--dry-run", "--html", str(html_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: arXiv picks for Fri 2025-03-21: ")
    assert "Open the day: https://reco.example.org/?date=2025-03-21" in out
    assert "https://reco.example.org/email/label/" in out
    assert html_file.read_text().startswith("<!doctype html>")
    assert inbox.messages == [] and load_state(settings).last_day_sent is None

    assert main(["digest", "--date", "2025-03-21"]) == 0
    assert "sent the digest of 2025-03-21" in capsys.readouterr().out
    (message,) = inbox.messages
    assert inbox.recipients == [["reader@example.org", "second@example.org"]]
    text, _ = parts(message)
    # The dry run printed this email, but for the links' issue time and expiry (and so their
    # signature): the two runs can fall in different seconds.
    unsigned = re.compile(r"issued=\d+&expires=\d+&sig=[0-9a-f]{64}")
    assert unsigned.sub("", out.split("\n", 2)[2]) == unsigned.sub("", text.replace("\r\n", "\n"))


def test_links_to_a_host_the_service_refuses_degrade_health(digest_settings):
    public = digest_settings.model_copy(update={"public_url": "https://reco.example.org"})
    with local_client(create_app(public)) as client:
        (problem,) = _digest_problems(client)
    assert "add reco.example.org to ARXIV_RECO_ALLOWED_HOSTS" in problem
    allowed = public.model_copy(update={"allowed_hosts": ["reco.example.org"]})
    with local_client(create_app(allowed)) as client:
        assert _digest_problems(client) == []
