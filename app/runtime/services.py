"""What one running service holds, made once at start and handed to the routes as one typed
object (``app.api.deps.ServicesDep``) instead of loose attributes on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from app.core.access import Access
from app.core.cache import ResponseCache
from app.core.config import Settings
from app.core.db import Database
from app.jobs.arxiv_source import ArxivClient
from app.jobs.retrain import RetrainRunner
from app.jobs.scheduler import DailyJob
from app.runtime.readers import ReaderDirectory
from app.serving.holder import ModelHolder, ModelHolders

if TYPE_CHECKING:
    import anyio
    from apscheduler.schedulers.background import BackgroundScheduler


@dataclass
class Services:
    settings: Settings
    access: Access
    database: Database
    holders: ModelHolders  # each topic's active model
    job: DailyJob
    retrainer: RetrainRunner
    response_cache: ResponseCache
    render_limiter: anyio.CapacityLimiter
    scheduler: BackgroundScheduler | None = None
    # A web process of `serve --workers`: the jobs are `arxiv-reco worker`'s, elsewhere.
    jobs_elsewhere: bool = False
    # One polite client for the API's look-ups (an import, labelling an unstored paper, an
    # author's papers): one request at a time, spaced by the configured delay.
    arxiv: ArxivClient = field(init=False)
    # Which reader each token is (app.runtime.readers): no query per request.
    readers: ReaderDirectory = field(init=False)

    def __post_init__(self) -> None:
        self.arxiv = ArxivClient(self.settings)
        self.readers = ReaderDirectory(self.database.sessions, self.response_cache)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database.sessions

    @property
    def holder(self) -> ModelHolder:
        """The default topic's model holder."""
        return self.holders.default
