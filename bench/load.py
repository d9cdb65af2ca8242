"""The API under load, on this machine only (127.0.0.1), bounded in time.

    .venv/bin/python -m bench.load [--duration 30] [--connections 50] [--scale-days 250]

1. `GET /recommendations` with 50 concurrent connections (wrk, Debian's package) for 30 s with the
   service idle, then while the service scores a real day with the ModernBERT-base shape (random
   weights, max length 512) in its own process, as its daily job does.
2. `POST /score` for one abstract: p50 of sequential requests, against the bare model forward
   (tokenise + forward of the same abstract, in this process, same model).
3. The same two loads on a service started without the response cache and without the niced
   background threads (ARXIV_RECO_RESPONSE_CACHE_ENTRIES=0, ARXIV_RECO_BACKGROUND_NICE=0), scoring
   another real day: what those two buy, measured in the same run.
4. While a retrain and its re-scoring run (--no-retrain skips it): a second database holding the
   shared benchmark's labelled papers (4,211) and the real listing days, served by a TF-IDF model
   fit on the labels before the last week; a reader's last week of labels arrives, `POST /retrain`
   refits on all of them and the new model re-scores every stored paper, while wrk reads a day.
   The row says how much of the wrk window the retrain and the re-scoring covered.
5. Scale (--scale-days 0 skips it): a database of N replicated real days (new ids; 250 days x 3
   copies of each real day is about 170,000 papers), `GET /recommendations` over random days, with
   the cache and without it (every request renders: the query path alone), and the database size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.demo.standin import (
    ArxivStandIn,
    catalog_from_listings,
    listing_files,
    read_listing,
)
from app.jobs.ingest import ingest_day
from app.serving.registry import register_model
from app.store.schema import Paper, Score
from bench._shared import listing_paper, minilm_dir
from training.inference.artifact import ModelMeta, compose_text
from training.inference.predictor import load_predictor

ROOT = Path(__file__).resolve().parents[1]

LOADED_DAY = dt.date(2025, 4, 15)  # the day scored under load (207 papers)
BASELINE_DAY = dt.date(2025, 4, 16)  # the day scored under load by the baseline service
UNCACHED = {"ARXIV_RECO_RESPONSE_CACHE_ENTRIES": "0", "ARXIV_RECO_BACKGROUND_NICE": "0"}
# How often the retrain part asks the service what runs (GET /retrain and GET /status), as the
# page asks while it waits for a retrain or a fetch (every 1.5-2 s).
WATCH_SECONDS = 2.0
SERVED_DAYS = [dt.date(2025, 3, 18), dt.date(2025, 3, 19), dt.date(2025, 3, 20)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def modernbert_shape_model(directory: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, ModernBertConfig, ModernBertForSequenceClassification

    torch.manual_seed(0)
    ModernBertForSequenceClassification(ModernBertConfig(num_labels=2)).save_pretrained(directory)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(directory)
    ModelMeta(
        method="finetune",
        threshold=0.3,
        max_length=512,
        base_model="ModernBertConfig() random weights",
    ).save(directory)
    return directory


def fill_scores(sessions, version_id: int, days: list[dt.date]) -> None:  # type: ignore[no-untyped-def]
    """Benchmark set-up only: scores for already stored days, without waiting for the model."""
    rng = random.Random(0)
    with session_scope(sessions) as session:
        ids = session.query(Paper.id, Paper.version).filter(Paper.submitted_on.in_(days)).all()
        session.add_all(
            Score(
                paper_id=pid,
                model_version_id=version_id,
                probability=rng.betavariate(1, 8),
                paper_version=version,
            )
            for pid, version in ids
        )


def wrk(url: str, connections: int, duration: int, script: Path | None = None) -> dict[str, float]:
    """One wrk thread drives the connections: it needs a fraction of a core for this load, and a
    second thread would only take CPU from the server on a two-core machine."""
    command = wrk_command(url, connections, duration, script)
    return wrk_result(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def wrk_command(url: str, connections: int, duration: int, script: Path | None) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", str(script)]
    return [*command, url]


def wrk_result(out: str) -> dict[str, float]:
    """wrk's report: requests, 50% and 99% latency (ms), errors, requests per second."""
    result: dict[str, float] = {}
    for label in ("50%", "99%"):
        match = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match[1]), match[2]
            result[label] = value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    result["requests"] = float(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = float(non2xx[1]) if non2xx else 0.0
    if errors:
        result["errors"] += sum(float(x) for x in errors.groups())
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return result


def start_server(
    settings: Settings, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ARXIV_RECO_DATA_DIR": str(settings.data_dir),
        "ARXIV_RECO_ARXIV_API_URL": settings.arxiv_api_url,
        "ARXIV_RECO_REQUEST_DELAY_SECONDS": "0",
        "ARXIV_RECO_SCHEDULER_ENABLED": "false",
        "ARXIV_RECO_LOG_LEVEL": "WARNING",
        "ARXIV_RECO_SCORING_PRECISION": "fp32",
        **(extra_env or {}),
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/arxiv-reco"), "serve", "--port", str(port)], env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start")


def print_row(service: str, name: str, r: dict[str, float]) -> None:
    print(
        f"| {service} | {name} | {r['requests']:.0f} | {r['rps']:.0f} | {r['50%']:.1f} | "
        f"{r['99%']:.1f} | {r['errors']:.0f} |",
        flush=True,
    )


def replicate_days(  # type: ignore[no-untyped-def]
    sessions, version_id: int, days: int, listings: Path, copies: int
) -> int:
    """Copy the real weekday listings (all categories, about 225 papers a day) forward with new
    ids, ``copies`` times a day, until ``days`` days exist: 250 days x 3 copies is about 170,000
    papers, a year of a wide follower's days."""
    templates = [read_listing(path) for path in listing_files(listings).values()]
    rng = random.Random(1)
    start = dt.date(2026, 1, 1)
    total = 0
    for index in range(days):
        day = start + dt.timedelta(days=index)
        stamp = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        papers, scores = [], []
        rows = templates[index % len(templates)] * copies
        for number, row in enumerate(rows):
            new_id = f"{day:%y%m}.9{index:03d}{number:04d}"
            papers.append(listing_paper(row, new_id, day))
            scores.append(
                {
                    "paper_id": new_id,
                    "model_version_id": version_id,
                    "probability": rng.betavariate(1, 8),
                    "paper_version": 1,
                    "scored_at": stamp,
                }
            )
        with session_scope(sessions) as session:
            session.execute(Paper.__table__.insert(), papers)
            session.execute(Score.__table__.insert(), scores)
        total += len(papers)
    return total


def wait_for_run(base: str) -> dict[str, object]:
    while (run := httpx.get(f"{base}/status", timeout=60).json()["last_runs"][0])[
        "finished_at"
    ] is None:
        time.sleep(2)
    return run  # type: ignore[no-any-return]


def under_scoring(base: str, url: str, day: dt.date, args: argparse.Namespace) -> dict[str, float]:
    """wrk on ``url`` while the service ingests and scores ``day`` in its own process."""
    started = httpx.post(f"{base}/ingest", params={"date": str(day)}, timeout=10)
    started.raise_for_status()
    # The job's child process starts (imports, model load) and records its run; fetching from
    # the local stand-in then takes a moment, and scoring a few minutes.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = httpx.get(f"{base}/status", timeout=60).json()["last_runs"]
        if runs and runs[0]["day"] == str(day) and runs[0]["finished_at"] is None:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"the ingestion of {day} did not start")
    time.sleep(5)
    during = wrk(url, args.connections, args.duration)
    run = httpx.get(f"{base}/status", timeout=60).json()["last_runs"][0]
    during["still_scoring"] = float(run["finished_at"] is None and run["day"] == str(day))
    return during


def score_overhead(base: str, model_dir: Path, catalog, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """POST /score against the bare forward of the same abstract, interleaved."""
    paper = catalog.entries[sorted(catalog.entries)[0]]
    payload = {"title": paper.title, "abstract": paper.summary}
    predictor = load_predictor(model_dir, device="cpu", precision="fp32")
    text = compose_text(paper.title, paper.summary)
    predictor.predict_proba([text])
    bare, http = [], []
    with httpx.Client(timeout=60) as client:
        client.post(f"{base}/score", json=payload).raise_for_status()
        for _ in range(args.score_requests):
            t = time.perf_counter()
            client.post(f"{base}/score", json=payload).raise_for_status()
            http.append(time.perf_counter() - t)
            t = time.perf_counter()
            predictor.predict_proba([text])
            bare.append(time.perf_counter() - t)
    p50_http, p50_bare = statistics.median(http), statistics.median(bare)
    print(
        f"\nPOST /score, one abstract ({len(predictor.tokenizer(text)['input_ids'])} "
        f"tokens), {args.score_requests} requests interleaved with bare forwards:"
    )
    print(
        f"p50 HTTP {p50_http * 1e3:.0f} ms, p50 bare forward {p50_bare * 1e3:.0f} ms, "
        f"overhead {p50_http / p50_bare - 1:+.1%}"
    )


def retrain_set_up(work: Path, standin_url: str, labels_csv: Path) -> tuple[Settings, Path]:
    """A reader with the benchmark's labels up to its last five days, served by a TF-IDF model
    fit on them. Returns the settings and the last five days' labels, to be revealed under load."""
    import pandas as pd

    from app.jobs.retrain import retrain
    from app.store.labels import import_labels_csv

    settings = Settings(
        data_dir=work / "retrain",
        arxiv_api_url=standin_url,
        request_delay_seconds=0,
        scheduler_enabled=False,
        retrain_method="tfidf",
        _env_file=None,
    )
    sessions = Database(settings.resolved_database_url).sessions
    for day in SERVED_DAYS:
        ingest_day(sessions, day, settings)
    frame = pd.read_csv(labels_csv, dtype={"paper_id": str})
    cut = sorted(frame["submission_date"].unique())[-5]
    revealed = work / "last-days.csv"
    frame.loc[frame["submission_date"] >= cut].to_csv(revealed, index=False)
    frame.loc[frame["submission_date"] < cut].to_csv(work / "earlier.csv", index=False)
    with session_scope(sessions) as session:
        import_labels_csv(session, work / "earlier.csv")
    first = retrain(sessions, settings, trigger="cli")
    if not first.activated:
        raise RuntimeError(f"the first model was not activated: {first.reason}")
    return settings, revealed


def under_retrain(
    base: str, url: str, settings: Settings, revealed: Path, args: argparse.Namespace
) -> dict[str, float]:
    """wrk on ``url`` while ``POST /retrain`` refits on the revealed labels and the new model
    re-scores every stored paper; how many of wrk's seconds each covered comes back with it."""
    import threading

    from app.store.labels import import_labels_csv

    with session_scope(Database(settings.resolved_database_url).sessions) as session:
        import_labels_csv(session, revealed)
    seen: list[tuple[bool, bool]] = []
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.wait(WATCH_SECONDS):
                retraining = client.get(f"{base}/retrain").json()["state"] == "running"
                progress = client.get(f"{base}/status").json()["rescoring"]
                rescoring = progress is not None and progress["scored"] < progress["papers"]
                seen.append((retraining, rescoring))

    deadline = time.monotonic() + 120
    # 409 while a job holds the lock (a started service re-scores what its model has not).
    while (started := httpx.post(f"{base}/retrain", timeout=30)).status_code == 409:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    started.raise_for_status()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        during = wrk(url, args.connections, args.retrain_duration)
    finally:
        stop.set()
        watcher.join()
    state = httpx.get(f"{base}/retrain", timeout=60).json()
    if state["state"] != "done" or not state["activated"]:
        raise RuntimeError(f"the retrain under load did not activate a model: {state}")
    during["retraining_share"] = sum(r for r, _ in seen) / max(1, len(seen))
    during["rescoring_share"] = sum(p for _, p in seen) / max(1, len(seen))
    return during


def table_header() -> None:
    print("| service | load | requests | req/s | p50 | p99 | errors |")
    print("|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--score-requests", type=int, default=20)
    parser.add_argument("--scale-days", type=int, default=250, help="0 skips the scale part")
    parser.add_argument("--no-scoring", action="store_true", help="skip parts 1-3")
    parser.add_argument("--no-retrain", action="store_true", help="skip the retrain part")
    parser.add_argument(
        "--retrain-labels",
        type=Path,
        default=ROOT.parent / "shared/data/arxiv_interest_2025spring.csv",
        help="labelled CSV of the retrain part",
    )
    parser.add_argument(
        "--retrain-duration", type=int, default=60, help="wrk seconds of the retrain part"
    )
    parser.add_argument("--scale-copies", type=int, default=3, help="copies of each real day")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="reco-load-"))
    catalog = catalog_from_listings(args.listings)
    print(
        f"## bench/load.py, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs"
    )
    with ArxivStandIn(catalog) as standin:
        settings = Settings(
            data_dir=work,
            arxiv_api_url=standin.url,
            request_delay_seconds=0,
            scheduler_enabled=False,
            _env_file=None,
        )
        sessions = Database(settings.resolved_database_url).sessions
        for day in SERVED_DAYS:
            ingest_day(sessions, day, settings)
        model_dir = modernbert_shape_model(work / "modernbert-shape")
        with session_scope(sessions) as session:
            version_id = register_model(
                session, path=model_dir, meta=ModelMeta.load(model_dir), activate=True
            ).id
        fill_scores(sessions, version_id, SERVED_DAYS)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/recommendations?date={SERVED_DAYS[-1]}"
        services = (
            ("as shipped", {}, LOADED_DAY),
            ("no cache, no nice", UNCACHED, BASELINE_DAY),
        )
        rows: list[tuple[str, str, dict[str, float]]] = []
        for name, extra_env, day in services if not args.no_scoring else ():
            server = start_server(settings, port, extra_env)
            try:
                if not rows:
                    body = httpx.get(url, timeout=60).json()
                    print(
                        f"GET /recommendations?date={SERVED_DAYS[-1]}: {len(body['papers'])} "
                        f"papers, {len(json.dumps(body)) // 1024} KiB; "
                        f"{args.connections} connections, {args.duration}s each; latency in ms"
                    )
                rows.append((name, "idle", wrk(url, args.connections, args.duration)))
                during = under_scoring(base, url, day, args)
                state = "still scoring" if during.pop("still_scoring") else "scoring finished"
                rows.append((name, f"while scoring {day} ({state})", during))
                if not extra_env:
                    run = wait_for_run(base)
                    print(
                        f"day {day}: {run['fetched']} fetched, {run['scored']} scored, "
                        f"{run['status']}"
                    )
                    score_overhead(base, model_dir, catalog, args)
            finally:
                server.terminate()
                server.wait(timeout=30)
        if rows:
            print()
            table_header()
        for name, load, result in rows:
            print_row(name, load, result)

        if not args.no_retrain:
            retrain_settings, revealed = retrain_set_up(work, standin.url, args.retrain_labels)
            server = start_server(retrain_settings, port)
            try:
                idle = wrk(url, args.connections, args.duration)
                during = under_retrain(base, url, retrain_settings, revealed, args)
            finally:
                server.terminate()
                server.wait(timeout=30)
            print()
            table_header()
            print_row("as shipped", "idle, TF-IDF model", idle)
            print_row(
                "as shipped",
                f"POST /retrain, then re-scoring (retrain {during.pop('retraining_share'):.0%}, "
                f"re-scoring {during.pop('rescoring_share'):.0%} of the window)",
                during,
            )

        if args.scale_days:
            added = replicate_days(
                sessions, version_id, args.scale_days, args.listings, args.scale_copies
            )
            db_path = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
            with sessions() as session:
                session.execute(sqlalchemy.text("PRAGMA wal_checkpoint(TRUNCATE)"))
                total = session.query(Paper).count()
            size = db_path.stat().st_size / 2**20
            print(
                f"\nscale: {total} papers ({added} replicated over {args.scale_days} days), "
                f"database {size:.0f} MiB"
            )
            days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(args.scale_days)]
            script = work / "days.lua"
            script.write_text(
                "local days = {" + ",".join(f'"{d}"' for d in days) + "}\n"
                "request = function()\n"
                "  return wrk.format(nil, '/recommendations?date=' .. "
                "days[math.random(#days)])\nend\n"
            )
            table_header()
            for name, extra_env in (("as shipped", {}), ("no cache, no nice", UNCACHED)):
                server = start_server(settings, port, extra_env)
                try:
                    # A fresh server: the first run renders every day once (a cold cache), the
                    # second finds them rendered.
                    runs = (
                        (f"first {args.duration} s, cold cache", f"next {args.duration} s")
                        if not extra_env
                        else ("",)
                    )
                    for when in runs:
                        print_row(
                            name,
                            f"random day of {args.scale_days}" + (f", {when}" if when else ""),
                            wrk(f"{base}/", args.connections, args.duration, script),
                        )
                finally:
                    server.terminate()
                    server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
