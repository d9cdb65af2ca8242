"""A secret the service generates for itself and keeps in the data directory, readable by its
owner only: made once, exclusively (never over a file another process made meanwhile, never
through a symbolic link), and refused when others may read it or it is too short."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
MIN_SECRET_LENGTH = 16


class SecretFileError(RuntimeError):
    """The stored secret cannot be trusted; the message says what to do."""


def read_or_create_secret(path: Path, *, setting: str) -> tuple[str, bool]:
    """The secret in ``path`` and whether it was made now. ``setting`` names the environment
    variable that replaces the file, for the error messages."""
    path = Path(path)
    if path.is_symlink():
        raise SecretFileError(f"{path} is a symbolic link; remove it and start again")
    if path.exists():
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise SecretFileError(
                f"{path} may be read or written by other users (mode {oct(mode & 0o777)}); "
                f"`chmod 600 {path}`, or remove it for a new one"
            )
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SecretFileError(
                f"the secret in {path} is shorter than {MIN_SECRET_LENGTH} characters; remove "
                f"the file for a new one, or set {setting}"
            )
        return secret, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    try:
        os.link(partial, path)  # never over a secret another process made meanwhile
    except FileExistsError:
        return read_or_create_secret(path, setting=setting)[0], False
    finally:
        partial.unlink()
    return secret, True
