"""The FastAPI application: REST API, the active model and the daily scheduler."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.cache import ResponseCache
from app.api.routes import feed, labels, models, papers, recommendations, score, system
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory, migrate
from app.ml.serving import ModelHolder
from app.retrain import RetrainRunner
from app.scheduler import DailyJob, start_scheduler
from app.web import routes as web

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url)
        app.state.sessions = make_session_factory(engine)
        app.state.response_cache = ResponseCache.for_engine(
            engine, max_entries=settings.response_cache_entries
        )
        app.state.render_limiter = anyio.CapacityLimiter(min(4, os.cpu_count() or 1))
        app.state.scheduler = None

        def score_recent_days(_: object) -> None:
            # A newly served model scores the recent days in the background.
            if app.state.scheduler is not None:
                app.state.scheduler.add_job(
                    app.state.job.score_recent, id="score-recent", replace_existing=True
                )

        app.state.holder = ModelHolder.from_settings(
            app.state.sessions, settings, on_change=score_recent_days
        )
        app.state.job = DailyJob(
            app.state.sessions, settings, app.state.holder, isolated=settings.job_process
        )
        app.state.retrainer = RetrainRunner(app.state.sessions, settings)
        if settings.scheduler_enabled:
            app.state.scheduler = start_scheduler(app.state.job)
        try:
            yield
        finally:
            if app.state.scheduler is not None:
                app.state.scheduler.shutdown(wait=False)
            app.state.response_cache.close()
            engine.dispose()

    app = FastAPI(
        title="arxiv-reco",
        summary="Daily arXiv recommendations from a model trained on your own labels",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Label routes first: /papers/{id}/label must not be taken for a paper id.
    for module in (labels, recommendations, score, papers, models, feed, system, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    return app
