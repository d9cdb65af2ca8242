"""The digest's own state: the last day sent and the last failed send, in a small JSON file in
the data directory, written atomically; and what /health says about it."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.core.config import ENV_PREFIX, Settings
from app.store.schema import FIRST_READER_ID

STATE_FILE = "digest_state.json"


class DigestStateError(RuntimeError):
    """The state file cannot be read; the message names it."""


@dataclass
class DigestState:
    last_day_sent: dt.date | None = None
    last_sent_at: dt.datetime | None = None
    # The last send that failed, until one succeeds.
    failed_day: dt.date | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    attempts: int = 0  # tries since the last send that succeeded

    def to_json(self) -> str:
        def text(value: dt.date | None) -> str | None:
            return None if value is None else value.isoformat()

        return json.dumps(
            {
                "last_day_sent": text(self.last_day_sent),
                "last_sent_at": text(self.last_sent_at),
                "failed_day": text(self.failed_day),
                "last_error": self.last_error,
                "last_error_at": text(self.last_error_at),
                "attempts": self.attempts,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> DigestState:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, found {type(raw).__name__}")

        def day(name: str) -> dt.date | None:
            value = raw.get(name)
            return None if value is None else dt.date.fromisoformat(value)

        def moment(name: str) -> dt.datetime | None:
            value = raw.get(name)
            return None if value is None else dt.datetime.fromisoformat(value)

        return cls(
            last_day_sent=day("last_day_sent"),
            last_sent_at=moment("last_sent_at"),
            failed_day=day("failed_day"),
            last_error=raw.get("last_error"),
            last_error_at=moment("last_error_at"),
            attempts=int(raw.get("attempts", 0)),
        )


def state_path(settings: Settings, reader_id: int = FIRST_READER_ID) -> Path:
    """The first reader's state keeps its old name; every other reader has their own."""
    name = STATE_FILE if reader_id == FIRST_READER_ID else f"digest_state-reader-{reader_id}.json"
    return Path(settings.data_dir) / name


def load_state(settings: Settings, reader_id: int = FIRST_READER_ID) -> DigestState:
    path = state_path(settings, reader_id)
    try:
        return DigestState.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DigestState()
    except (OSError, ValueError, TypeError) as err:
        raise DigestStateError(
            f"the digest state {path} cannot be read ({err}); remove it, and the next digest "
            "is the newest day's"
        ) from err


def save_state(settings: Settings, state: DigestState, reader_id: int = FIRST_READER_ID) -> None:
    """Written to a temporary file and renamed over the old one: a reader never sees half."""
    path = state_path(settings, reader_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(state.to_json() + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def digest_problems(
    settings: Settings,
    reader_id: int | None = FIRST_READER_ID,
    *,
    host_allowed: Callable[[str], bool] | None = None,
) -> list[str]:
    """What /health and /status say about the digest: links to a host the service refuses
    (``host_allowed``: the running service's Host check), or the reader's send that failed since
    their last one succeeded (``reader_id=None``: how many readers' failed, naming none)."""
    if not settings.digest_enabled:
        return []
    problems = []
    public_host = urlsplit(settings.public_url).netloc
    if host_allowed is not None and not host_allowed(public_host):
        problems.append(
            f"the digest's links go to {settings.public_url} ({ENV_PREFIX}PUBLIC_URL), a host "
            f"this service refuses: add {urlsplit(settings.public_url).hostname} to "
            f"{ENV_PREFIX}ALLOWED_HOSTS"
        )
    if reader_id is None:
        failed = 0
        for path in Path(settings.data_dir).glob("digest_state*.json"):
            try:
                failed += DigestState.from_json(path.read_text("utf-8")).last_error is not None
            except (OSError, ValueError, TypeError):
                failed += 1
        if failed:
            whose = "1 reader's daily digest" if failed == 1 else f"{failed} readers' daily digests"
            problems.append(f"{whose} could not be sent; each reader's /status says why")
        return problems
    try:
        state = load_state(settings, reader_id)
    except DigestStateError as err:
        return [*problems, str(err)]
    if state.last_error is None:
        return problems
    when = f"{state.last_error_at:%Y-%m-%d %H:%M} UTC" if state.last_error_at else "unknown"
    day = state.failed_day.isoformat() if state.failed_day else "DATE"
    return [
        *problems,
        f"the daily digest of {state.failed_day} could not be sent ({state.attempts} tries, the "
        f"last at {when}): {state.last_error}; the next daily run tries again, or "
        f"`arxiv-reco digest --date {day}`",
    ]
