"""A lab server under load (issue 20): readers x topics on one install, on both set-ups.

    .venv/bin/python -m bench.lab [--days 250] [--readers 10] [--topics 3] [--duration 30]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:55432/postgres] [--only sqlite]

Each set-up gets a database of ``--days`` replicated real listing days (about 225 papers a day:
250 days is a year, about 56,000 papers), ``--readers`` readers with ``--topics`` topics each,
every topic with its own labels (papers whose title has the topic's word, and others) and its
own TF-IDF model, which has scored every stored paper. Then, with wrk's 50 connections on
``GET /recommendations`` (each request one reader's token and one of their topics, in turn):

1. idle: the service serving, nothing else running;
2. nightly: every topic got new labels, and the daily job runs (its ingestion, then every
   reader's every topic retrained, gated with ``ARXIV_RECO_RETRAIN_TOLERANCE=1`` so that every
   new model is activated, and re-scores the whole year): wrk runs from 3 s after the job
   starts until it is done (at most ``--night-duration`` seconds), and the job's time from its
   start to the last topic's re-scoring is reported.

Set-ups: **sqlite**, one ``arxiv-reco serve`` process whose scheduler runs the job (its catch-up
at start: the process is restarted with its scheduler, and warmed again); **postgresql**,
``arxiv-reco serve --workers 2`` and one ``arxiv-reco worker``, whose catch-up at start runs the
job. The wrk row says whether it covered the whole job, or how much of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.demo.standin import ArxivStandIn, catalog_from_listings
from app.jobs.retrain import retrain
from app.serving.registry import active_model
from app.store.labels import set_label
from app.store.readers import add_reader
from app.store.schema import ModelVersion, Paper, RetrainRun, Score
from app.store.topics import create_topic, list_topics
from bench.load import ROOT, free_port, replicate_days, wrk, wrk_command, wrk_result

WORDS = [
    "language", "vision", "graph", "reinforcement", "diffusion", "robot", "quantum",
    "federated", "medical", "speech", "transformer", "adversarial", "benchmark", "survey",
    "agent", "retrieval", "3d", "video", "optimization", "neural", "detection", "segmentation",
    "generation", "attention", "knowledge", "privacy", "causal", "multimodal", "reasoning",
    "efficient",
]  # fmt: skip
POSITIVES, NEGATIVES = 40, 300  # each topic's first labels
MORE_POSITIVES, MORE_NEGATIVES = 10, 50  # the labels that arrive before the night


def _env(settings: Settings, url: str, standin: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ARXIV_RECO_DATA_DIR": str(settings.data_dir),
        "ARXIV_RECO_DATABASE_URL": url,
        "ARXIV_RECO_ARXIV_API_URL": standin,
        "ARXIV_RECO_REQUEST_DELAY_SECONDS": "0",
        "ARXIV_RECO_LOG_LEVEL": "WARNING",
        "ARXIV_RECO_RETRAIN_METHOD": "tfidf",
        "ARXIV_RECO_RETRAIN_TOLERANCE": "1",
        "ARXIV_RECO_BACKUP_KEEP": "0",
        "ARXIV_RECO_SCHEDULE_CRON": "0 0 * * *",  # passed today: the catch-up runs at start
        "ARXIV_RECO_API_TOKEN": "lab-admin-token-0123456789abcdef",
        **extra,
    }


def _label(
    session, topic_id: int, word: str, ids: list[tuple[str, str]], rng, n_pos, n_neg
) -> None:  # type: ignore[no-untyped-def]
    positives = [pid for pid, title in ids if word in title.lower().split()]
    negatives = [pid for pid, title in ids if word not in title.lower()]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    for pid in positives[:n_pos]:
        set_label(session, paper_id=pid, interest=1, source="web", topic_id=topic_id)
    for pid in negatives[:n_neg]:
        set_label(session, paper_id=pid, interest=0, source="web", topic_id=topic_id)


def build(url: str, settings: Settings, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The lab's database: the year of papers, the readers, their topics' labels and models,
    each model's scores of every paper. Returns (token, topic) for each topic."""
    database = Database(url)
    sessions = database.sessions
    started = time.perf_counter()
    with session_scope(sessions) as session:
        made = [add_reader(session, f"reader-{r}") for r in range(args.readers)]
        pairs, topics = [], []
        for r, reader in enumerate(made):
            for t in range(args.topics):
                word = WORDS[(r * args.topics + t) % len(WORDS)]
                topic = (
                    list_topics(session, reader.reader.id)[0]
                    if t == 0
                    else create_topic(session, f"{word}-{t}", reader.reader.id)
                )
                topics.append((topic.id, word))
                pairs.append((reader.token, topic.name))
    # The first topic's model scores the replicated days as they are stored (a placeholder,
    # replaced below); every topic then gets its own model and scores.
    first = topics[0][0]
    with session_scope(sessions) as session:
        placeholder = ModelVersion(
            topic_id=first, name="placeholder", path=str(Path(settings.data_dir) / "none"),
            method="tfidf", metrics={}, is_active=False,
        )  # fmt: skip
        session.add(placeholder)
        session.flush()
        placeholder_id = placeholder.id
    papers = replicate_days(sessions, placeholder_id, args.days, args.listings, 1)
    with sessions() as session:
        ids = [(pid, title) for pid, title in session.execute(select(Paper.id, Paper.title))]
    print(f"{papers:,} papers stored in {time.perf_counter() - started:.0f} s", flush=True)
    rng = random.Random(0)
    for topic_id, word in topics:
        with session_scope(sessions) as session:
            _label(session, topic_id, word, ids, rng, POSITIVES, NEGATIVES)
        outcome = retrain(sessions, settings, method="tfidf", force=True, topic_id=topic_id)
        # Its scores of every paper, without scoring them (set-up only: the night re-scores):
        # u**8 of a uniform u, mean 0.11, as a reader's scores lean low (about a tenth of a day
        # above a threshold of 0.3).
        noise = "random()" if url.startswith("postgresql") else "(abs(random()) % 1000) / 1000.0"
        with session_scope(sessions) as session:
            session.execute(
                text(
                    "INSERT INTO scores (paper_id, model_version_id, probability, paper_version, "
                    "scored_at) SELECT id, :v, u * u * u * u * u * u * u * u, version, :now "
                    f"FROM (SELECT id, version, {noise} AS u FROM papers) AS drawn"
                ),
                {"v": outcome.version_id, "now": dt.datetime.now(dt.timezone.utc)},
            )
    with session_scope(sessions) as session:
        session.execute(
            text("DELETE FROM scores WHERE model_version_id = :v"), {"v": placeholder_id}
        )
        session.execute(text("DELETE FROM model_versions WHERE id = :v"), {"v": placeholder_id})
        for topic_id, word in topics:  # the labels that arrive before the night
            _label(session, topic_id, word, ids, rng, MORE_POSITIVES, MORE_NEGATIVES)
    print(
        f"{len(topics)} topics labelled, trained and scored in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    database.dispose()
    return pairs


def lua_script(path: Path, pairs: list[tuple[str, str]], day: dt.date) -> Path:
    """wrk: each request one reader's token and one of their topics, in turn."""
    rows = ",\n".join(
        f'  {{"/recommendations?date={day}&topic={topic}", "Bearer {token}"}}'
        for token, topic in pairs
    )
    path.write_text(
        "local pairs = {\n" + rows + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #pairs + 1\n"
        '  return wrk.format("GET", pairs[i][1], {["Authorization"] = pairs[i][2]})\nend\n'
    )
    return path


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not start")


def night_done(url: str, topics: int, since: dt.datetime) -> bool:
    """Every topic retrained since ``since`` and its active model has scored every paper."""
    database = Database(url, migrate=False)
    try:
        with database.session() as session:
            runs = session.scalar(
                select(func.count(RetrainRun.id)).where(
                    RetrainRun.trigger == "nightly",
                    RetrainRun.finished_at.is_not(None),
                    RetrainRun.started_at >= since,
                )
            )
            if (runs or 0) < topics:
                return False
            papers = session.scalar(select(func.count(Paper.id)))
            for topic_id in session.scalars(text("SELECT id FROM topics")):
                version = active_model(session, topic_id=topic_id)
                scored = session.scalar(
                    select(func.count(Score.id)).where(Score.model_version_id == version.id)
                ) if version else 0  # fmt: skip
                if scored != papers:
                    return False
            return True
    finally:
        database.dispose()


def wrk_until(
    target: str, connections: int, limit: int, script: Path, over: threading.Event
) -> tuple[dict[str, float], float]:
    """wrk until ``over`` is set (stopped with SIGINT, it reports what it measured) or for
    ``limit`` seconds; its report and how long it ran."""
    process = subprocess.Popen(
        wrk_command(target, connections, limit, script), stdout=subprocess.PIPE, text=True
    )
    started = time.monotonic()
    while process.poll() is None:
        if over.wait(0.5):
            process.send_signal(signal.SIGINT)
            break
    out, _ = process.communicate(timeout=60)
    if process.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk failed ({process.returncode})")
    return wrk_result(out), time.monotonic() - started


def warm(target: str, pairs: list[tuple[str, str]], day: dt.date) -> None:
    """Each list rendered once, as readers have opened it."""
    for token, topic in pairs:
        httpx.get(
            f"{target}recommendations", params={"date": str(day), "topic": topic},
            headers={"Authorization": f"Bearer {token}"}, timeout=60,
        ).raise_for_status()  # fmt: skip


def measure(name: str, url: str, pairs, args, web_cmd, job_cmd, settings, standin) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    script = lua_script(Path(settings.data_dir) / "lab.lua", pairs, args.day)
    target = f"http://127.0.0.1:{port}/"
    web_env = _env(settings, url, standin, ARXIV_RECO_SCHEDULER_ENABLED="false")
    web = subprocess.Popen([*web_cmd, "--port", str(port)], env=web_env)
    try:
        wait_healthy(port, web)
        warm(target, pairs, args.day)
        # Every web process warm (each loads every topic's model at its first request for it),
        # not measured.
        wrk(target, args.connections, 10, script)
        idle = wrk(target, args.connections, args.duration, script)
        print(f"| {name} | idle | {idle['requests']:.0f} | {idle['50%']:.1f} | "
              f"{idle['99%']:.1f} | {idle['errors']:.0f} | |", flush=True)  # fmt: skip
        since = dt.datetime.now(dt.timezone.utc)
        started = time.monotonic()
        if job_cmd is None:  # the one process runs the job itself: restart it with its scheduler
            web.terminate()
            web.wait(timeout=60)
            web_env = _env(settings, url, standin, ARXIV_RECO_SCHEDULER_ENABLED="true")
            web = subprocess.Popen([*web_cmd, "--port", str(port)], env=web_env)
            wait_healthy(port, web)
            # A restart is how the bench starts the job here, not part of a night: the process
            # is warmed as before the idle run (its first request for a topic loads the model).
            warm(target, pairs, args.day)
            job = None
        else:
            job = subprocess.Popen(job_cmd, env=_env(settings, url, standin))
        finished: list[float] = []
        stop, night_over = threading.Event(), threading.Event()

        def watch() -> None:
            while not stop.wait(5):
                if night_done(url, len(pairs), since):
                    finished.append(time.monotonic() - started)
                    night_over.set()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(3)
        during, lasted = wrk_until(
            target, args.connections, args.night_duration, script, night_over
        )
        covered = (
            f"the whole job ({lasted:.0f} s)"
            if finished
            else f"its first {lasted:.0f} s (from 3 s after it started)"
        )
        print(f"| {name} | nightly job running | {during['requests']:.0f} | "
              f"{during['50%']:.1f} | {during['99%']:.1f} | {during['errors']:.0f} | "
              f"{covered} |", flush=True)  # fmt: skip
        watcher.join(timeout=args.night_limit)
        stop.set()
        if finished:
            print(f"{name}: the nightly job for {len(pairs)} topics took {finished[0]:.0f} s "
                  "(its ingestion, every retrain, every re-scoring)", flush=True)  # fmt: skip
        else:
            print(f"{name}: the nightly job was not done after {args.night_limit} s", flush=True)
        if job is not None:
            job.terminate()
            job.wait(timeout=120)
    finally:
        web.terminate()
        web.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--topics", type=int, default=3)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--night-duration", type=int, default=3600)
    parser.add_argument("--night-limit", type=int, default=1800)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--postgres", help="an empty PostgreSQL server's URL (its database is used)"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    args.day = dt.date(2026, 1, 1) + dt.timedelta(days=args.days - 1)  # the newest stored day
    catalog = catalog_from_listings(args.listings)
    arxiv = ROOT / ".venv/bin/arxiv-reco"
    with ArxivStandIn(catalog) as standin, tempfile.TemporaryDirectory() as work:
        print("| set-up | load | requests | p50 ms | p99 ms | errors | job |")
        print("|---|---|---|---|---|---|---|")
        if args.only in (None, "sqlite"):
            settings = Settings(data_dir=Path(work) / "sqlite", _env_file=None)
            url = settings.resolved_database_url
            pairs = build(url, settings, args)
            measure("SQLite, serve (1 process)", url, pairs, args, [str(arxiv), "serve"], None,
                    settings, standin.url)  # fmt: skip
        if args.only in (None, "postgresql") and args.postgres:
            settings = Settings(data_dir=Path(work) / "postgresql", _env_file=None)
            pairs = build(args.postgres, settings, args)
            measure("PostgreSQL, serve --workers 2 + worker", args.postgres, pairs, args,
                    [str(arxiv), "serve", "--workers", "2"], [str(arxiv), "worker"], settings,
                    standin.url)  # fmt: skip


if __name__ == "__main__":
    main()
