"""A new reader's first ranked day: from `arxiv-reco serve` on an empty data directory to a day
ranked by a model trained on three arXiv ids.

    .venv/bin/python -m bench.firstday [--listings DIR] [--days 3] [--ids ID ID ID] [--json FILE]

What the reader does, through the service's real HTTP API, in one process of its own
(`arxiv-reco serve`, the scheduler off: arXiv is the local stand-in playing the real listings of
``--days`` weekdays, and the bench asks for them as the page's backfill does):

1. the service starts on an empty data directory (no database, no model);
2. ``POST /ingest`` backfills the stand-in's newest ``--days`` listing days;
3. ``POST /labels/import`` with three arXiv ids pasted (fetched from the stand-in by id);
4. ``POST /retrain`` (the page's button), then ``GET /retrain`` until it is done;
5. ``GET /recommendations`` until the newest day is ranked by that model.

Each step's wall time is reported; "service time" is steps 3 to 5, what the reader waits for
once the day's papers are there (with the real arXiv, the backfill's time is arXiv's politeness
delay, 3 s a request, not the service's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from app.demo.standin import ArxivStandIn, catalog_from_listings, listing_files

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LISTINGS = ROOT.parent / "shared/data/listings"
# Three papers on language-model reasoning listed on 2025-04-10 (interesting in the shared
# benchmark), weeks before the backfilled days: the service fetches them by id.
DEFAULT_IDS = ("2504.06514", "2504.07081", "2504.07086")
CATEGORIES = "cs.AI,cs.CL,cs.LG"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.firstday",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--listings", type=Path, default=DEFAULT_LISTINGS)
    parser.add_argument("--days", type=int, default=3, help="listing days to backfill")
    parser.add_argument("--ids", nargs="+", default=list(DEFAULT_IDS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    days = sorted(listing_files(args.listings))[-args.days :]
    catalog = catalog_from_listings(args.listings)
    missing = [i for i in args.ids if i not in catalog.entries]
    if missing:
        raise SystemExit(f"--ids {missing}: not in the listings of {args.listings}")
    port = _free_port()
    steps: dict[str, float] = {}
    with ArxivStandIn(catalog) as standin, tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "ARXIV_RECO_DATA_DIR": data_dir,
            "ARXIV_RECO_ARXIV_API_URL": standin.url,
            "ARXIV_RECO_CATEGORIES": CATEGORIES,
            "ARXIV_RECO_SCHEDULER_ENABLED": "false",
            "ARXIV_RECO_REQUEST_DELAY_SECONDS": "0",
            "ARXIV_RECO_PORT": str(port),
        }
        started = time.perf_counter()
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("arxiv-reco")), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=60) as client:

                def up() -> bool:
                    try:
                        return client.get("/health").status_code in (200, 503)
                    except httpx.TransportError:
                        return False

                _wait("the service to answer", up, 120)
                steps["start"] = time.perf_counter() - started
                mark = time.perf_counter()
                answer = client.post(
                    "/ingest", params={"date": days[0].isoformat(), "to": days[-1].isoformat()}
                )
                answer.raise_for_status()
                _wait(
                    "the backfill",
                    lambda: _ingested(client, len(days)),
                    300,
                )
                steps["backfill"] = time.perf_counter() - mark
                service_started = mark = time.perf_counter()
                report = client.post(
                    "/labels/import",
                    content="\n".join(args.ids),
                    headers={"Content-Type": "text/plain"},
                )
                report.raise_for_status()
                steps["import"] = time.perf_counter() - mark
                mark = time.perf_counter()
                # As the page does: while another job holds the lock (409), wait and ask again.
                _wait(
                    "the retrain to start",
                    lambda: client.post("/retrain").status_code != 409,
                    300,
                    1.0,
                )
                state = _wait(
                    "the retrain",
                    lambda: (s := client.get("/retrain").json())["state"] != "running" and s,
                    300,
                )
                if state["state"] != "done":
                    raise SystemExit(f"the retrain did not succeed: {state}")
                steps["retrain"] = time.perf_counter() - mark
                mark = time.perf_counter()
                newest = days[-1].isoformat()
                ranked = _wait(
                    "the newest day to be ranked by the new model",
                    lambda: _ranked(client, newest, state["outcome"]["version_id"]),
                    300,
                )
                steps["ranked"] = time.perf_counter() - mark
                steps["service"] = time.perf_counter() - service_started
                steps["total"] = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "days": [d.isoformat() for d in days],
        "ids": args.ids,
        "import": report.json()["summary"],
        "retrain": state["message"],
        "newest_day": ranked,
        "seconds": {k: round(v, 2) for k, v in steps.items()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _ingested(client: httpx.Client, days: int) -> bool:
    status = client.get("/status").json()
    runs = [r for r in status["last_runs"] if r["status"] != "running"]
    return len(runs) >= days and not any(r["status"] == "running" for r in status["last_runs"])


def _ranked(client: httpx.Client, day: str, version_id: int) -> dict[str, Any] | None:
    answer = client.get("/recommendations", params={"date": day}).json()
    if answer.get("model", {}).get("id") != version_id or answer.get("pending", 1):
        return None
    return {
        "date": day,
        "recommended": answer["recommended"],
        "of": answer["total_papers"],
        "top": [
            {"id": p["id"], "title": p["title"][:80], "probability": p["probability"]}
            for p in answer["papers"][:3]
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
