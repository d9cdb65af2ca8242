"""The digest's settings and its signed label links, without a server."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from pydantic import SecretStr, ValidationError

from app.core.config import Settings
from app.core.secret_file import SecretFileError
from app.digest.links import SECRET_FILE, LabelLink, LinkRefused, digest_key

NOW = dt.datetime(2025, 3, 22, 1, 30, tzinfo=dt.timezone.utc)
KEY = b"k" * 32


ISSUED = int(NOW.timestamp())


def _link(paper_id: str = "2503.15855", interest: int = 1, days: int = 14) -> LabelLink:
    return LabelLink(paper_id, interest, int((NOW + dt.timedelta(days=days)).timestamp()), ISSUED)


def test_a_link_is_good_for_its_paper_and_answer_until_it_expires():
    link = _link()
    link.check(link.signature(KEY), KEY, now=NOW)
    signature = link.signature(KEY)
    for other in (
        _link(interest=0),
        _link(paper_id="2503.15952"),
        LabelLink(link.paper_id, 1, link.expires + 1, ISSUED),
        LabelLink(link.paper_id, 1, link.expires, ISSUED + 86400),  # issued later
    ):
        with pytest.raises(LinkRefused, match="changed, or it is not the link"):
            other.check(signature, KEY, now=NOW)
    with pytest.raises(LinkRefused, match="changed"):
        link.check(link.signature(b"another key " * 3), KEY, now=NOW)
    with pytest.raises(LinkRefused, match="expired on 2025-04-05 01:30 UTC"):
        link.check(signature, KEY, now=NOW + dt.timedelta(days=14, seconds=1))
    assert link.url("https://reco.example.org", KEY) == (
        f"https://reco.example.org/email/label/2503.15855?interest=1&issued={ISSUED}"
        f"&expires={link.expires}&sig={signature}"
    )
    # A label given after the link was issued, in the same second included, is not its to undo.
    assert link.predates(NOW) and link.predates(NOW + dt.timedelta(hours=1))
    assert not link.predates(NOW - dt.timedelta(seconds=1))
    old_style = LabelLink("hep-th/9901001", 0, link.expires, ISSUED)
    assert "/email/label/hep-th/9901001?" in old_style.url("http://h", KEY)


def test_the_key_is_generated_once_readable_by_the_owner_only(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    key = digest_key(settings)
    path = settings.data_dir / SECRET_FILE
    assert len(key) >= 32 and digest_key(settings) == key
    assert path.stat().st_mode & 0o777 == 0o600
    given = Settings(data_dir=tmp_path / "data", digest_secret="s" * 20, _env_file=None)
    assert digest_key(given) == b"s" * 20
    os.chmod(path, 0o644)
    with pytest.raises(SecretFileError, match="may be read or written by other users"):
        digest_key(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"smtp_host": "mail.example.org"}, "smtp_host is set .* but digest_to is empty"),
        (
            {"smtp_host": "mail.example.org", "digest_to": "me@example.org"},
            "digest_from is not, and smtp_user is not an address",
        ),
        ({"digest_to": "me@example.org, not an address"}, "not email addresses"),
        ({"smtp_password": "pw"}, "smtp_password is set but smtp_user is not"),
        ({"digest_secret": "short"}, "the digest secret has 5 characters; give 16 or more"),
        ({"public_url": "reco.example.org"}, "expected an http"),
        ({"smtp_tls": "tls"}, "'starttls', 'ssl' or 'none'"),
    ],
)
def test_a_bad_digest_setting_is_refused_by_name(monkeypatch, values, message):
    for name, value in values.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name.upper()}", value)
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None)


def test_digest_settings_from_the_environment(monkeypatch):
    for name, value in {
        "SMTP_HOST": "mail.example.org",
        "SMTP_TLS": "ssl",
        "SMTP_USER": "me@example.org",
        "SMTP_PASSWORD": "app password",
        "DIGEST_TO": "me@example.org,you@example.org",
        "PUBLIC_URL": "https://reco.example.org/",
    }.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name}", value)
    settings = Settings(_env_file=None)
    assert settings.digest_enabled and settings.resolved_smtp_port == 465
    assert settings.digest_sender == "me@example.org"
    assert settings.digest_to == ["me@example.org", "you@example.org"]
    assert settings.public_url == "https://reco.example.org"
    assert isinstance(settings.smtp_password, SecretStr)
    assert "app password" not in repr(settings)
    assert not Settings(_env_file=None, smtp_host="").digest_enabled
