"""The followed arXiv categories: stored in the database, the environment's list until then.

:func:`followed_categories` is the one place ingestion, health and the pages read them from. The
reader picks them on ``/settings/categories`` (or ``PUT /categories``); while the database holds
none, ``ARXIV_RECO_CATEGORIES`` is followed. A category added there gets its recent days fetched
at once (:func:`backfill_days`, run by the job as any backfill, under its one-job lock); a
removed one is no longer fetched, and its stored papers stay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.config import Settings, arxiv_categories, unknown_category
from app.store.schema import FollowedCategory, IngestRun, utcnow

# The ingestion runs of a new category's recent days: they fetch only the new categories, so a
# day's completeness (health's checks) is judged by the other runs.
BACKFILL_TRIGGER = "categories"
# Days fetched for a newly added category, ending at the newest day the service has listed.
BACKFILL_DAYS = 7

# Names of arXiv's archives of several categories; an archive of one is named by its category.
ARCHIVE_NAMES = {
    "astro-ph": "Astrophysics",
    "cond-mat": "Condensed Matter",
    "cs": "Computer Science",
    "econ": "Economics",
    "eess": "Electrical Engineering and Systems Science",
    "math": "Mathematics",
    "nlin": "Nonlinear Sciences",
    "physics": "Physics",
    "q-bio": "Quantitative Biology",
    "q-fin": "Quantitative Finance",
    "stat": "Statistics",
}


class CategoryError(ValueError):
    """Categories that cannot be followed; ``problems`` says why, one sentence each."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def followed_categories(session: Session, settings: Settings) -> list[str]:
    """The categories to fetch: the stored ones, or the environment's while none are stored."""
    stored = stored_categories(session)
    return stored or list(settings.categories)


def stored_categories(session: Session) -> list[str]:
    return list(
        session.scalars(select(FollowedCategory.category).order_by(FollowedCategory.category))
    )


def checked_categories(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, in their order; CategoryError naming every unknown one."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise CategoryError(["follow at least one arXiv category, e.g. cs.LG"])
    problems = [problem for problem in map(unknown_category, wanted) if problem]
    if problems:
        raise CategoryError(problems)
    return wanted


@dataclass(frozen=True)
class CategoryChange:
    categories: list[str]
    added: list[str]
    removed: list[str]


def plan_change(session: Session, settings: Settings, names: Iterable[str]) -> CategoryChange:
    """What following ``names`` instead of the current list adds and removes (CategoryError for
    unknown ones). The environment's list counts as followed while none is stored."""
    wanted = checked_categories(names)
    current = set(followed_categories(session, settings))
    return CategoryChange(
        categories=sorted(wanted),
        added=sorted(set(wanted) - current),
        removed=sorted(current - set(wanted)),
    )


def store_change(
    session: Session,
    change: CategoryChange,
    *,
    backfill: tuple[dt.date, dt.date] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Store ``change.categories`` as the followed list; the added ones record ``backfill``, the
    days fetched for them. Those kept keep their record; a removed one's is deleted."""
    now = now or utcnow()
    kept = set(stored_categories(session))
    session.execute(
        delete(FollowedCategory).where(FollowedCategory.category.not_in(change.categories))
    )
    first, last = backfill if backfill is not None else (None, None)
    for category in change.categories:
        if category in kept:
            continue
        added = category in change.added
        session.add(
            FollowedCategory(
                category=category,
                added_at=now,
                backfill_first=first if added else None,
                backfill_last=last if added else None,
            )
        )
    session.flush()


def backfill_days(
    latest_listed: dt.date | None,
    *,
    today: dt.date,
    days: int = BACKFILL_DAYS,
    max_days: int | None = None,
) -> tuple[dt.date, dt.date]:
    """The recent days to fetch for a new category: the ``days`` ending at the newest day the
    service has listed (the days the reader reads), or at yesterday (UTC) when it has none;
    never later than today, at most ``max_days`` (ARXIV_RECO_MAX_INGEST_DAYS)."""
    last = min(latest_listed or today - dt.timedelta(days=1), today)
    span = min(days, max_days) if max_days is not None else days
    return last - dt.timedelta(days=span - 1), last


BackfillState = Literal["running", "done", "failed", "stopped"]


@dataclass
class BackfillStatus:
    """The fetch of the last categories added on the page: its days and how far it got."""

    categories: list[str]
    first: dt.date
    last: dt.date
    state: BackfillState
    days: int
    days_done: int
    new_papers: int
    errors: list[str] = field(default_factory=list)


def backfill_status(session: Session, *, job_running: Callable[[], bool]) -> BackfillStatus | None:
    """The state of the newest backfill of added categories, from its ingestion runs; None when
    no category was added on the page. ``job_running`` is asked only while days are missing."""
    newest = session.scalar(
        select(FollowedCategory.added_at)
        .where(FollowedCategory.backfill_first.is_not(None))
        .order_by(FollowedCategory.added_at.desc())
        .limit(1)
    )
    if newest is None:
        return None
    rows = list(
        session.scalars(
            select(FollowedCategory).where(
                FollowedCategory.added_at == newest, FollowedCategory.backfill_first.is_not(None)
            )
        )
    )
    first, last = rows[0].backfill_first, rows[0].backfill_last
    assert first is not None and last is not None
    runs = session.scalars(
        select(IngestRun)
        .where(
            IngestRun.trigger == BACKFILL_TRIGGER,
            IngestRun.started_at >= newest,
            IngestRun.day >= first,
            IngestRun.day <= last,
        )
        .order_by(IngestRun.id)
    )
    by_day = {run.day: run for run in runs}  # the newest run of each day
    days = (last - first).days + 1
    done = [run for run in by_day.values() if run.status == "success"]
    errors = [
        f"{run.day}: {run.error or run.status}"
        for run in by_day.values()
        if run.status in ("failed", "interrupted")
    ]
    state: BackfillState
    if len(done) == days:
        state = "done"
    elif len(by_day) == days and all(run.status != "running" for run in by_day.values()):
        state = "failed"
    elif job_running():
        state = "running"
    else:
        state = "failed" if errors else "stopped"
    return BackfillStatus(
        categories=sorted(row.category for row in rows),
        first=first,
        last=last,
        state=state,
        days=days,
        days_done=len(done),
        new_papers=sum(run.new for run in done),
        errors=errors,
    )


@dataclass(frozen=True)
class Archive:
    """One archive of arXiv's taxonomy (``cs``, ``math``, ``hep-th``...) and its categories."""

    archive: str
    name: str
    categories: list[tuple[str, str]]  # (category, name)


def taxonomy() -> list[Archive]:
    """arXiv's active categories grouped by archive, archives and categories in code order."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for category, name in sorted(arxiv_categories().items()):
        grouped.setdefault(category.split(".", 1)[0], []).append((category, name))
    return [
        Archive(
            archive=archive,
            name=ARCHIVE_NAMES.get(archive, members[0][1] if len(members) == 1 else archive),
            categories=members,
        )
        for archive, members in sorted(grouped.items())
    ]


def backfill_message(status: BackfillStatus) -> str:
    """The backfill's state in a sentence for the reader."""
    which = ", ".join(status.categories)
    days = f"{status.first} to {status.last}" if status.days > 1 else f"{status.first}"
    new = f"{status.new_papers} new paper{'' if status.new_papers == 1 else 's'}"
    if status.state == "done":
        return f"Fetched {which} for {days}: {new}."
    if status.state == "running":
        return (
            f"Fetching {which} for {days}: {status.days_done} of {status.days} days done, "
            f"{new} so far."
        )
    if status.state == "failed":
        return (
            f"Fetching {which} for {days} failed on {len(status.errors)} "
            f"day{'' if len(status.errors) == 1 else 's'} ({'; '.join(status.errors)}); "
            f"{status.days_done} of {status.days} days were fetched ({new}). The daily job "
            "fetches the most recent days again."
        )
    return (
        f"Fetching {which} for {days} stopped after {status.days_done} of {status.days} days "
        f"({new}): it was cancelled, or the service stopped. The daily job fetches the most "
        "recent days again."
    )
