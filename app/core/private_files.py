"""The reader's data is theirs alone: the data directory is 0700, and the database (with its
``-wal``, ``-shm`` and record of creation), the backups and the secrets in it are 0600, however
permissive the process's umask. Files made before are closed to others at the next start; a
directory is closed only when it is the data directory or this service made it, never one it
was merely pointed into (a database URL in a shared folder)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_DIRECTORY, PRIVATE_FILE = 0o700, 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_POSIX = os.name == "posix"


def private_directory(path: Path, *, close_existing: bool = False) -> Path:
    """``path``, made with its missing parents for the owner only; ``close_existing`` also
    closes an existing one of ours that others may enter (the data directory)."""
    path = Path(path)
    existed = path.is_dir()
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    if _POSIX and (close_existing or not existed):
        _restrict(path, PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> None:
    """Make ``path`` (if it is there) readable and writable by its owner only."""
    if _POSIX and path.is_file() and not path.is_symlink():
        _restrict(path, PRIVATE_FILE)


def create_private_file(path: Path) -> None:
    """An empty file at ``path`` for the owner only, unless one is there already (then it is
    made owner-only): SQLite keeps the mode of a file it finds, and gives its -wal and -shm
    files the same."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, PRIVATE_FILE))
    except FileExistsError:
        private_file(path)


def _restrict(path: Path, mode: int) -> None:
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 == 0 or info.st_uid != os.geteuid():
        return
    os.chmod(path, mode)
    logger.info("made %s %s by its owner only", path, "usable" if path.is_dir() else "readable")
