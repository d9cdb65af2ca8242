"""The digest's one-click label links: signed, expiring, and good for one paper and one answer.

A link names a paper, an interest (1 interesting, 0 not), the topic it labels in, when it was
issued and its expiry (Unix seconds), and carries an HMAC-SHA256 of them under the digest
secret. The topic is its id, which a rename keeps and a new topic never reuses; the default
topic's links sign what they signed before topics, so the links already sent stay good.

The link opens a confirmation page (GET, which stores nothing: mail scanners fetch links to check
them), and the page's button POSTs the same signed fields, which store the label without the API
token: the signature is the permission, for that paper, topic and answer only, until the
expiry. A label given after the link was issued (on the page, say) is never overridden by it: a
click on an old email does not undo what the reader decided since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from app.core.config import ENV_PREFIX, Settings
from app.core.secret_file import read_or_create_secret
from app.store.schema import DEFAULT_TOPIC_ID

logger = logging.getLogger(__name__)

SECRET_FILE = "digest_secret"
LABEL_PATH = "/email/label"
# What the signature is for: a key for another purpose never makes a label link.
# v2: with the issue time (v1 links, without it, are refused: they could undo a later label).
_PURPOSE = b"arxiv-reco email label v2"


class LinkRefused(ValueError):
    """A label link that is not valid: changed, for another paper or answer, or expired."""


def digest_key(settings: Settings) -> bytes:
    """The key that signs the links: ARXIV_RECO_DIGEST_SECRET, or the one generated into the
    data directory at first use (owner-only)."""
    if settings.digest_secret is not None:
        return settings.digest_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / SECRET_FILE
    secret, made = read_or_create_secret(path, setting=f"{ENV_PREFIX}DIGEST_SECRET")
    if made:
        logger.info("generated the key of the digest's label links into %s", path)
    return secret.encode()


@dataclass(frozen=True)
class LabelLink:
    paper_id: str  # without a version suffix
    interest: int
    expires: int  # Unix seconds
    issued: int  # Unix seconds: when the digest that carries it was made
    topic_id: int = DEFAULT_TOPIC_ID

    def signature(self, key: bytes) -> str:
        fields = [
            _PURPOSE,
            self.paper_id.encode(),
            str(self.interest).encode(),
            str(self.expires).encode(),
            str(self.issued).encode(),
        ]
        if self.topic_id != DEFAULT_TOPIC_ID:
            fields.append(f"topic {self.topic_id}".encode())
        return hmac.new(key, b"\n".join(fields), hashlib.sha256).hexdigest()

    def query(self, key: bytes) -> str:
        topic = {} if self.topic_id == DEFAULT_TOPIC_ID else {"topic_id": self.topic_id}
        return urlencode(
            {
                "interest": self.interest,
                **topic,
                "issued": self.issued,
                "expires": self.expires,
                "sig": self.signature(key),
            }
        )

    def url(self, base_url: str, key: bytes) -> str:
        return f"{base_url}{LABEL_PATH}/{quote(self.paper_id, safe='/')}?{self.query(key)}"

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, tz=dt.timezone.utc)

    @property
    def issued_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.issued, tz=dt.timezone.utc)

    def predates(self, labelled_at: dt.datetime) -> bool:
        """A label given at ``labelled_at`` came after this link was issued (within the same
        second counts as after), so the link must not override it."""
        return labelled_at.timestamp() >= self.issued

    def check(self, signature: str, key: bytes, *, now: dt.datetime | None = None) -> None:
        """LinkRefused unless ``signature`` is this link's and it has not expired. The signature
        is checked first, so a changed expiry reads as a changed link."""
        if not hmac.compare_digest(signature.encode(), self.signature(key).encode()):
            raise LinkRefused(
                "this link was changed, or it is not the link for this paper and answer; "
                "label the paper on the page instead"
            )
        now = now or dt.datetime.now(dt.timezone.utc)
        if now.timestamp() > self.expires:
            raise LinkRefused(
                f"this link expired on {self.expires_at:%Y-%m-%d %H:%M} UTC; label the paper "
                "on the page instead"
            )


def label_link(
    paper_id: str,
    interest: int,
    *,
    settings: Settings,
    now: dt.datetime,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> LabelLink:
    """A link that stays valid ``digest_link_days`` days from ``now``."""
    expires = now + dt.timedelta(days=settings.digest_link_days)
    return LabelLink(
        paper_id=paper_id,
        interest=interest,
        expires=int(expires.timestamp()),
        issued=int(now.timestamp()),
        topic_id=topic_id,
    )


_FEED_PURPOSE = b"arxiv-reco reader feed v1"


def feed_key(key: bytes, reader_id: int, token_hash: str) -> str:
    """The key of a reader's feed URL, for feed readers, which send no token: it names the
    reader and stops working when the reader's token is renewed (it signs the token's hash)."""
    message = _FEED_PURPOSE + f":{reader_id}:{token_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]
