"""A real SMTP server on 127.0.0.1 (aiosmtpd), a day of papers and a model that recommends some."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from app.core.config import Settings
from app.jobs.ingest import ingest_day
from tests.factories import activate_model_dir, topic_with_a_lower_threshold
from tests.live import free_port

FRIDAY = dt.date(2025, 3, 21)
SATURDAY = FRIDAY + dt.timedelta(days=1)  # the daily job on Saturday ingests Wed, Thu and Fri
SECOND = "robotics"  # the second topic of ``two_topics``
LINK = re.compile(r'href="([^"]*/email/label/[^"]*)"')


class Inbox:
    """What the server received; ``refuse_next`` answers that many messages 451 (try later)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse_next = 0
        self.unknown: set[str] = set()  # mailboxes answered 550

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: N802
        if address in self.unknown:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope) -> str:  # noqa: N802
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def digest_settings(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_tls": "none",
            "smtp_retries": 0,
            "digest_from": "reco@example.org",
            "digest_to": ["reader@example.org"],
        }
    )


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture
def tfidf_model(sessions, tfidf_meta_model_dir) -> int:
    """A tfidf model, whose reasons are terms, authors and comment words."""
    return activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-digest")


@pytest.fixture
def friday(sessions, settings, holder, tfidf_model) -> dt.date:
    """Friday's papers ingested and scored."""
    assert ingest_day(sessions, FRIDAY, settings, model=holder.get).status == "success"
    return FRIDAY


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of a digest."""
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def label_links(html_part: str) -> list[str]:
    return [html.unescape(url) for url in LINK.findall(html_part)]


@pytest.fixture
def two_topics(sessions, settings, holders, friday, tfidf_meta_model_dir, tmp_path) -> int:
    """A second topic whose model is the default's with a lower threshold, so it recommends
    every paper the default topic does and three more; Friday scored in both. Its id."""
    return topic_with_a_lower_threshold(
        sessions, holders, tfidf_meta_model_dir, tmp_path / "robotics-model", name=SECOND
    )
