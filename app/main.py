"""The FastAPI application: REST API, the reader's page, the active model and the daily job."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app.api.body_limit import BodySizeLimit
from app.api.routes import ROUTERS as API_ROUTERS
from app.api.routes.docs import DOCS_ASSETS_DIR, DOCS_ASSETS_URL
from app.core import heap
from app.core.access import Access, HostCheckMiddleware
from app.core.cache import ResponseCache
from app.core.config import Settings, get_settings
from app.core.db import Database, DatabaseGone
from app.core.private_files import private_directory
from app.jobs.scheduler import DailyJob, LockedRetrainRunner, start_scheduler
from app.runtime.services import Services
from app.serving.holder import LoadedModel, ModelHolders
from app.web import EXCEPTION_HANDLERS, PAGES_AT_API_URLS, STATIC_DIR
from app.web import ROUTERS as WEB_ROUTERS

logger = logging.getLogger(__name__)

# The one router list: the JSON API, then the page (which sits above the API, never below). The
# search pages share the API's URLs and answer browsers only (Accept: text/html), so they go first.
ROUTERS = [*PAGES_AT_API_URLS, *API_ROUTERS, *WEB_ROUTERS]


def start_services(
    settings: Settings,
    access: Access | None = None,
    *,
    settle_heap: bool = False,
    rescore: bool = True,
    background_loads: bool = False,
) -> Services:
    """``rescore=False`` (the web processes of ``serve --workers``): a newly activated model is
    loaded in the background while the one loaded goes on serving, then served, and the
    worker, which looks for activations, re-scores the stored days with it.
    ``background_loads`` (``arxiv-reco serve``): a new model loads in the background there too,
    so that no request waits for a load (thirty topics retrained in a night are thirty loads);
    the jobs' scoring still waits for the active one."""
    private_directory(settings.data_dir, close_existing=True)
    database = Database(settings.resolved_database_url)
    services: Services

    def rescore_every_day(loaded: LoadedModel) -> None:
        # A newly served model scores every stored day in the background, newest first; without
        # the scheduler (the demo, ARXIV_RECO_SCHEDULER_ENABLED=false) in a thread of its own.
        topic_id = loaded.topic_id
        if services.scheduler is not None:
            services.scheduler.add_job(
                services.job.rescore,
                id=f"rescore-{topic_id}",
                replace_existing=True,
                kwargs={"topic_id": topic_id},
            )
        else:
            threading.Thread(
                target=rescore_logged, args=(topic_id,), name="rescore", daemon=True
            ).start()

    def rescore_logged(topic_id: int) -> None:
        try:
            services.job.rescore(topic_id=topic_id)
        except Exception:  # a background thread's failure is logged, never lost
            logger.exception("re-scoring with the new model failed")

    served_topics: set[int] = set()

    def model_loaded(loaded: LoadedModel) -> None:
        if loaded.topic_id in served_topics:  # another model replaces the one served
            # The topic's lists rendered with the previous one; no other topic's.
            services.response_cache.invalidate(scope=loaded.topic_id)
        served_topics.add(loaded.topic_id)
        if settle_heap:  # app.core.heap: the model's objects are long-lived
            heap.settle()
        if rescore:
            rescore_every_day(loaded)

    # The served processes load a new model in the background.
    holders = ModelHolders(
        database.sessions,
        settings,
        on_change=model_loaded,
        background=background_loads or not rescore,
    )
    job = DailyJob(
        database.sessions,
        settings,
        holders.default,
        isolated=settings.job_process,
        holders=holders,
    )
    services = Services(
        settings=settings,
        access=access or Access.for_settings(settings),
        database=database,
        holders=holders,
        job=job,
        retrainer=LockedRetrainRunner(database.sessions, settings, job),
        response_cache=ResponseCache.for_engine(
            database.engine, max_entries=settings.response_cache_entries
        ),
        render_limiter=anyio.CapacityLimiter(min(4, os.cpu_count() or 1)),
        jobs_elsewhere=not rescore,
    )
    services.job.sweep_interrupted()
    if settings.scheduler_enabled:
        services.scheduler = start_scheduler(services.job)
    return services


def stop_services(services: Services) -> None:
    if services.scheduler is not None:
        services.scheduler.shutdown(wait=False)
    services.response_cache.close()
    services.database.dispose()


def create_app(
    settings: Settings | None = None,
    *,
    settle_heap: bool = False,
    rescore: bool = True,
    background_loads: bool = False,
) -> FastAPI:
    """The service. ``settle_heap`` (``arxiv-reco serve``) keeps the garbage collector off the
    long-lived objects (``app.core.heap``); a process that makes many apps keeps the defaults.
    ``background_loads`` (``arxiv-reco serve``): see ``start_services``."""
    settings = settings or get_settings()
    access = Access.for_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = start_services(
            settings,
            access,
            settle_heap=settle_heap,
            rescore=rescore,
            background_loads=background_loads,
        )
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            stop_services(app.state.services)
            if settle_heap:
                heap.release()

    app = FastAPI(
        title="arxiv-reco",
        summary="Daily arXiv recommendations from a model trained on your own labels",
        version="0.1.0",
        lifespan=lifespan,
        # Served from local files by app.api.routes.docs: FastAPI's own pages use a CDN.
        docs_url=None,
        redoc_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    app.add_exception_handler(DatabaseGone, _database_gone)
    for error, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.add_middleware(HostCheckMiddleware, access=access)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app


async def _database_gone(request: Request, error: Exception) -> JSONResponse:
    logger.error("%s", error)
    return JSONResponse({"detail": str(error)}, status_code=503)


def web_app() -> FastAPI:
    """One web process of ``arxiv-reco serve --workers N`` (uvicorn's factory): the settings
    from the environment, and never the scheduler (``arxiv-reco worker`` runs the jobs)."""
    settings = get_settings().model_copy(update={"scheduler_enabled": False})
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [web %(process)d]: %(message)s",
    )
    return create_app(settings, settle_heap=True, rescore=False)
