"""Sending the digest: the daily send after the nightly job and a send by hand, each recorded
in the digest's state (``app.digest.state``).

A failed send is logged, kept in the state (``/health`` and ``/status`` show it until a send
succeeds), retried within the run when the failure may pass (no connection, a 4xx answer), and
tried again by the next daily run. It never fails the job.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.digest.compose import Digest, build_digest, email_message, next_digest_day
from app.digest.state import DigestState, load_state, save_state
from app.serving.holder import LoadedModel, ModelHolders
from app.store.schema import FIRST_READER_ID, Reader
from app.store.topics import list_topics

logger = logging.getLogger(__name__)

LOCK_FILE = "digest.lock"
SMTP_TIMEOUT_SECONDS = 30.0
RETRY_SECONDS = 30.0  # the first retry within a run; doubles after each
LOCK_WAIT_SECONDS = 600.0


def deliver(settings: Settings, message: EmailMessage) -> None:
    """Hand the message to the SMTP server; raises OSError (smtplib's errors among them)."""
    host, port = settings.smtp_host or "", settings.resolved_smtp_port
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
        if settings.smtp_user is not None:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_user, password)
        refused = client.send_message(message)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def _passing(err: OSError) -> bool:
    """A failure that may pass if tried again soon: no connection, or a 4xx answer."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return False
    if isinstance(err, smtplib.SMTPResponseException):
        return 400 <= err.smtp_code < 500
    return True


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


@dataclass(frozen=True)
class SendOutcome:
    day: dt.date
    sent: bool
    tries: int
    error: str | None = None


def send_digest(
    settings: Settings,
    digest: Digest,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
    record: bool = True,
    reader_id: int = FIRST_READER_ID,
) -> SendOutcome:
    """Send one digest, retrying a passing failure ``smtp_retries`` times, and record the result
    in the reader's state (not with ``record=False``: a part of a day's digest, one topic's, is
    not the day's digest). Holds the digest lock, so two sends never race on a state."""
    with _lock(settings):
        return _send_locked(
            settings, digest, sleep=sleep, now=now, record=record, reader_id=reader_id
        )


def _send_locked(
    settings: Settings,
    digest: Digest,
    *,
    sleep: Callable[[float], None],
    now: dt.datetime | None,
    record: bool = True,
    reader_id: int = FIRST_READER_ID,
) -> SendOutcome:
    message = email_message(settings, digest, now=now)
    tries, error = 0, None
    for retry in range(settings.smtp_retries + 1):
        if retry:
            wait = RETRY_SECONDS * 2 ** (retry - 1)
            logger.warning("sending the digest again in %.0f s", wait)
            sleep(wait)
        tries += 1
        try:
            deliver(settings, message)
        except OSError as err:
            error = _describe(err)
            logger.error(
                "the digest of %s was not sent to %s:%d (try %d): %s",
                digest.day,
                settings.smtp_host,
                settings.resolved_smtp_port,
                tries,
                error,
            )
            if not _passing(err):
                break
        else:
            error = None
            break
    if not record:
        return SendOutcome(day=digest.day, sent=error is None, tries=tries, error=error)
    state = load_state(settings, reader_id)
    if error is not None:
        _record_failure(settings, state, digest.day, error, tries=tries, reader_id=reader_id)
        return SendOutcome(day=digest.day, sent=False, tries=tries, error=error)
    state.last_day_sent = max(state.last_day_sent or digest.day, digest.day)
    state.last_sent_at = dt.datetime.now(dt.timezone.utc)
    state.failed_day, state.last_error, state.last_error_at, state.attempts = None, None, None, 0
    save_state(settings, state, reader_id)
    logger.info(
        "sent the digest of %s (%d papers) to %s",
        digest.day,
        digest.paper_count,
        ", ".join(settings.digest_to),
    )
    return SendOutcome(day=digest.day, sent=True, tries=tries)


def topic_models(
    session: Session, holders: ModelHolders, reader_id: int = FIRST_READER_ID
) -> list[LoadedModel]:
    """Each of the reader's topics' active model, in the reader's order; a topic without one
    has no part in the digest."""
    models = []
    for topic in list_topics(session, reader_id):
        model = holders[topic.id].get()
        if model is None:
            logger.info("the topic %s has no active model: no part in the digest", topic.name)
        else:
            models.append(model)
    return models


def send_daily_digest(
    sessions: sessionmaker[Session],
    settings: Settings,
    holders: ModelHolders,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
    reader_id: int = FIRST_READER_ID,
) -> SendOutcome | None:
    """A reader's daily digest (``settings.digest_to`` is where it goes): the newest weekday not
    yet sent to them (``app.digest.compose``), a part per topic of theirs with its active model;
    None when the digest is off, none of their topics' models is active or no day is new."""
    if not settings.digest_enabled:
        return None
    with _lock(settings):
        state = load_state(settings, reader_id)
        with sessions() as session:
            models = topic_models(session, holders, reader_id)
        if not models:
            logger.info("no model is active: no digest")
            return None
        with sessions() as session:
            day = next_digest_day(session, last_sent=state.last_day_sent)
            if day is None:
                logger.info("no new day since the digest of %s", state.last_day_sent)
                return None
            missed = state.failed_day if state.failed_day and state.failed_day < day else None
            try:
                digest = build_digest(
                    session,
                    settings,
                    models,
                    day,
                    last_sent=state.last_day_sent,
                    missed_day=missed,
                    now=now,
                )
            except Exception as err:  # recorded and shown by /health; the job goes on
                logger.exception("the digest of %s could not be written", day)
                _record_failure(settings, state, day, _describe(err), tries=1, reader_id=reader_id)
                return SendOutcome(day=day, sent=False, tries=1, error=_describe(err))
        return _send_locked(settings, digest, sleep=sleep, now=now, reader_id=reader_id)


def digest_recipients(session: Session, settings: Settings) -> list[tuple[int, Settings]]:
    """Each reader who gets a digest, with the settings that send it to them: the first reader
    at their own address or else ``ARXIV_RECO_DIGEST_TO``; every other reader at the address
    they gave (``PATCH /me``, ``readers add --email``), none without one."""
    recipients = []
    for reader in session.scalars(select(Reader).order_by(Reader.id)):
        if reader.email:
            to = [reader.email]
        elif reader.id == FIRST_READER_ID:
            to = list(settings.digest_to)
        else:
            logger.info("the reader %s gave no address: no digest for them", reader.name)
            continue
        if to:
            recipients.append((reader.id, settings.model_copy(update={"digest_to": to})))
    return recipients


def send_every_daily_digest(
    sessions: sessionmaker[Session],
    settings: Settings,
    holders: ModelHolders,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
) -> dict[int, SendOutcome | None]:
    """The daily job's digests, one per reader with an address; one reader's failure (recorded
    in their state) never stops the others'."""
    if not settings.digest_enabled:
        return {}
    with sessions() as session:
        recipients = digest_recipients(session, settings)
    outcomes: dict[int, SendOutcome | None] = {}
    for reader_id, reader_settings in recipients:
        try:
            outcomes[reader_id] = send_daily_digest(
                sessions, reader_settings, holders, sleep=sleep, now=now, reader_id=reader_id
            )
        except Exception:
            logger.exception("the daily digest of reader %d failed", reader_id)
    return outcomes


def _record_failure(
    settings: Settings,
    state: DigestState,
    day: dt.date,
    error: str,
    *,
    tries: int,
    reader_id: int = FIRST_READER_ID,
) -> None:
    state.attempts = (state.attempts if state.failed_day == day else 0) + tries
    state.failed_day, state.last_error = day, error
    state.last_error_at = dt.datetime.now(dt.timezone.utc)
    save_state(settings, state, reader_id)


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    """The digest's file lock (the service's daily send, a send by hand): one at a time."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(settings.data_dir) / LOCK_FILE), thread_local=False)
    try:
        lock.acquire(timeout=LOCK_WAIT_SECONDS)
    except Timeout:
        raise TimeoutError(
            f"another digest send held {lock.lock_file} for {LOCK_WAIT_SECONDS:.0f} s"
        ) from None
    try:
        yield
    finally:
        lock.release()
