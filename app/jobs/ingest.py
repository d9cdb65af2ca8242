"""Daily ingestion: one plain function that the scheduler, the CLI and the tests all call."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.arxiv_source import ArxivClient, ArxivPaper, FetchError
from app.serving.holder import LoadedModel, ModelUnavailable
from app.serving.scoring import score_pending
from app.store.categories import followed_categories
from app.store.schema import IngestRun, Paper, utcnow

logger = logging.getLogger(__name__)

ModelProvider = Callable[[], LoadedModel | None]
# The other topics' models, which score the new papers in the same pass (never raises).
ModelsProvider = Callable[[], Sequence[LoadedModel]]


@dataclass
class IngestReport:
    day: dt.date
    run_id: int
    status: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    scored: int = 0
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


def ingest_day(
    sessions: sessionmaker[Session],
    day: dt.date,
    settings: Settings,
    *,
    client: ArxivClient | None = None,
    model: ModelProvider | None = None,
    others: ModelsProvider | None = None,
    trigger: str = "manual",
    progress: bool = False,
    categories: Sequence[str] | None = None,
) -> IngestReport:
    """Fetch the papers first submitted on ``day`` in ``categories`` (None: the followed ones,
    ``app.store.categories.followed_categories``), upsert them, score what is new or changed, and
    record the run. ``others``: the other topics' models, which score the new papers in the same
    pass. Running a day twice changes nothing; a failed run is recorded as failed and leaves what
    it had committed consistent, so the next run completes the day."""
    started = time.perf_counter()
    with session_scope(sessions) as session:
        if categories is None:
            categories = followed_categories(session, settings)
        run = IngestRun(day=day, trigger=trigger, status="running")
        session.add(run)
        session.flush()
        report = IngestReport(day=day, run_id=run.id, status="running")
    logger.info("ingesting %s (run %d, %s)", day, report.run_id, trigger)
    try:
        papers = (client or ArxivClient(settings)).fetch_day(categories, day)
        report.fetched = len(papers)
        with session_scope(sessions) as session:
            report.new, report.updated = upsert_papers(session, papers)
        loaded = model() if model is not None else None
        scoring = [loaded] if loaded is not None else []
        scoring += list(others()) if others is not None else []
        if loaded is None:
            logger.warning("no active model: papers of %s are stored but not scored", day)
        if scoring:
            # The default topic's model must score the day; another topic's failure is logged.
            report.scored = score_pending(
                sessions, scoring, days=[day], progress=progress, required=int(loaded is not None)
            )
        report.status = "success"
    except FetchError as err:
        logger.error("ingestion of %s failed: %s", day, err)
        report.status, report.error = "failed", f"{type(err).__name__}: {err}"
    except ModelUnavailable as err:  # stored, but a day left unscored is no success
        report.status = "failed"
        report.error = f"its papers are stored but not scored: {err}"
        logger.error("ingestion of %s failed: %s", day, report.error)
    except Exception as err:  # recorded on the run, and the next run completes the day
        logger.exception("ingestion of %s failed", day)
        report.status, report.error = "failed", f"{type(err).__name__}: {err}"
    report.seconds = time.perf_counter() - started
    with session_scope(sessions) as session:
        run = session.get_one(IngestRun, report.run_id)
        run.status, run.error, run.finished_at = report.status, report.error, utcnow()
        run.fetched, run.new, run.updated, run.scored = (
            report.fetched,
            report.new,
            report.updated,
            report.scored,
        )
    if report.status == "success" and report.fetched == 0 and day.weekday() < 5:
        logger.warning("arXiv listed no papers for weekday %s in %s", day, list(categories))
    logger.info(
        "ingested %s: %s, fetched %d, new %d, updated %d, scored %d in %.1fs",
        day,
        report.status,
        report.fetched,
        report.new,
        report.updated,
        report.scored,
        report.seconds,
    )
    return report


def upsert_papers(session: Session, papers: Sequence[ArxivPaper]) -> tuple[int, int]:
    """Insert new papers and update those whose version or text changed; returns (new, updated)."""
    existing = {
        p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_([p.id for p in papers])))
    }
    new = updated = 0
    now = utcnow()
    for item in papers:
        row = existing.get(item.id)
        if row is None:
            session.add(_paper_row(item, now))
            new += 1
        elif _changed(row, item):
            for key, value in _fields(item).items():
                setattr(row, key, value)
            row.last_changed_at = now
            updated += 1
    session.flush()
    return new, updated


def _fields(item: ArxivPaper) -> dict[str, object]:
    return {
        "version": item.version,
        "title": item.title,
        "abstract": item.abstract,
        "authors": item.authors,
        "categories": item.categories,
        "subject_classes": item.subject_classes,
        "primary_category": item.primary_category,
        "submitted_at": item.submitted_at,
        "submitted_on": item.submitted_at.astimezone(dt.timezone.utc).date(),
        "updated_at": item.updated_at,
        "comment": item.comment,
        "journal_ref": item.journal_ref,
        "doi": item.doi,
        "abs_url": item.abs_url,
        "pdf_url": item.pdf_url,
    }


def _paper_row(item: ArxivPaper, now: dt.datetime) -> Paper:
    return Paper(id=item.id, first_seen_at=now, last_changed_at=now, **_fields(item))


def _changed(row: Paper, item: ArxivPaper) -> bool:
    if item.version < row.version:
        return False  # an older copy of the paper; never step back
    current = _fields(item)
    return any(getattr(row, key) != value for key, value in current.items())


class RangeError(ValueError):
    """A range of days that will not be ingested; the message names the bad value."""


def check_range(
    first: dt.date, last: dt.date, settings: Settings, *, today: dt.date | None = None
) -> None:
    """RangeError unless ``first..last`` is a range worth asking arXiv for: in order, not in the
    future, and at most ``max_ingest_days`` long (a typo like 1991..2099 is 33 hours of API
    calls while the daily job waits)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if last < first:
        raise RangeError(f"the last day {last} is before the first day {first}")
    if last > today:
        raise RangeError(f"{last} is in the future (today is {today} UTC); arXiv lists it later")
    days = (last - first).days + 1
    if days > settings.max_ingest_days:
        raise RangeError(
            f"{first}..{last} is {days} days, more than {settings.max_ingest_days} "
            f"(ARXIV_RECO_MAX_INGEST_DAYS); ingest it in parts, or raise the setting"
        )


def ingest_range(
    sessions: sessionmaker[Session],
    first: dt.date,
    last: dt.date,
    settings: Settings,
    *,
    model: ModelProvider | None = None,
    others: ModelsProvider | None = None,
    trigger: str = "manual",
    progress: bool = False,
    cancelled: Callable[[], bool] | None = None,
    categories: Sequence[str] | None = None,
) -> list[IngestReport]:
    """Ingest every day from ``first`` to ``last`` inclusive, sharing one polite client; stops
    before the next day once ``cancelled()`` is true. ``categories``: as for :func:`ingest_day`."""
    if last < first:
        raise RangeError(f"the last day {last} is before the first day {first}")
    client = ArxivClient(settings)
    reports: list[IngestReport] = []
    total = (last - first).days + 1
    day = first
    while day <= last:
        if cancelled is not None and cancelled():
            logger.warning(
                "ingestion cancelled after %d of %d days; %s..%s not fetched",
                len(reports),
                total,
                day,
                last,
            )
            break
        reports.append(
            ingest_day(
                sessions,
                day,
                settings,
                client=client,
                model=model,
                others=others,
                trigger=trigger,
                progress=progress,
                categories=categories,
            )
        )
        day += dt.timedelta(days=1)
    return reports
