"""Heavy work in a fresh child process at the background niceness: scoring, fitting and
ingestion there never hold the serving process's interpreter lock, and the child exits
afterwards, so an idle service holds no second copy of the model."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import Database
from app.serving.holder import ModelHolder
from app.store.schema import DEFAULT_TOPIC_ID

T = TypeVar("T")


def in_child_process(
    settings: Settings, function: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run ``function(settings, *args, **kwargs)`` in a fresh child process at the background
    niceness and return its result; the child exits afterwards, so an idle service holds no
    second copy of the model."""
    context = multiprocessing.get_context("spawn")  # no forked torch or SQLite state
    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=context,
        initializer=_child_setup,
        initargs=(settings.background_nice, settings.log_level, os.getpid()),
    ) as pool:
        return pool.submit(function, settings, *args, **kwargs).result()


def _child_setup(nice: int, log_level: str, parent: int) -> None:
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s [job %(process)d] %(name)s: %(message)s"
    )
    if nice > 0 and hasattr(os, "nice"):
        # At least ``nice``: a worker's child starts as nice as the worker already is.
        os.nice(max(0, nice - os.nice(0)))
    threading.Thread(
        # The parent's pid as the parent gave it: asked here, after a parent that ended while
        # this process started, getppid() is the reaper's (1), and the child was kept forever.
        target=_exit_with_parent,
        args=(parent,),
        name="parent-watch",
        daemon=True,
    ).start()


PARENT_POLL_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """The job's child ends within a second of its parent, however the parent ended (TERM,
    KILL, out of memory): an orphan would go on writing beside the restarted service's job.
    Its run stays ``running`` and the restarted service marks it ``interrupted``."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    logging.getLogger(__name__).error("the service process %d is gone; the job stops", parent)
    os._exit(1)


@contextmanager
def child_state(
    settings: Settings, *, topic_id: int = DEFAULT_TOPIC_ID
) -> Iterator[tuple[sessionmaker[Session], ModelHolder]]:
    """The child's database and the topic's model holder. The parent migrated the database;
    the child only opens it."""
    with Database(settings.resolved_database_url, migrate=False) as database:
        yield (
            database.sessions,
            ModelHolder.from_settings(database.sessions, settings, topic_id=topic_id),
        )
