"""Property-based fuzzing of the JSON API from its own OpenAPI schema, in this process.

    .venv/bin/python -m bench.fuzz [--max-examples 200] [--seed 1] [--json bench/out/fuzz.json]

Schemathesis reads `/openapi.json` and sends each operation the schema's examples, its boundary
values (the coverage phase), then `--max-examples` generated requests, valid and invalid ones,
and chains of requests the responses link to (the stateful phase). The service is the real app
on a temporary data directory, built as `arxiv-reco demo` builds its own: the demo's 400 labels,
a tfidf model trained on them and activated, three listing days ingested from the local arXiv
stand-in (which also answers `POST /ingest`). Writes carry the API token.

Each response must not be a server error (a 5xx, or an exception out of the app, which a server
answers with a 500), must use a status code and content type the schema declares for the
operation, and must match the declared response schema. The script prints the counts, one line
per failure, and exits 1 on any failure. tests/api/test_fuzz.py runs a short version.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import engine
from schemathesis.engine import events
from schemathesis.python import asgi

from app.core.config import Settings
from app.demo import prepare_demo
from app.demo.standin import ArxivStandIn, catalog_from_listings
from app.main import create_app

TOKEN = "fuzz-token"
# A loopback name, which the service's Host check takes.
BASE_URL = "http://localhost"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass(frozen=True)
class Failure:
    operation: str
    check: str  # a check's name, or "error" for an exception
    title: str
    request: str = ""
    status: int | None = None

    def __str__(self) -> str:
        answer = f" -> {self.status}" if self.status is not None else ""
        return f"{self.operation}: {self.check}: {self.title} ({self.request}{answer})"


@dataclass
class FuzzReport:
    cases: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    status_code_violations: int = 0
    content_type_violations: int = 0
    # Exceptions out of the app, which a server answers with a 500 (the in-process transport
    # re-raises them), or out of the engine.
    errors: int = 0
    seconds: float = 0.0
    cases_by_operation: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)


def fuzz_settings(data_dir: Path, *, arxiv_api_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        api_token=TOKEN,
        arxiv_api_url=arxiv_api_url,
        request_delay_seconds=0,
        request_timeout_seconds=2,
        retries=1,
        retry_backoff_seconds=0.01,
        scheduler_enabled=False,
        job_process=False,
        _env_file=None,
    )


def run_fuzz(app: Any, *, max_examples: int, seed: int = 1, token: str = TOKEN) -> FuzzReport:
    """Every phase of a `schemathesis run` against ``app`` over ASGI, counted."""
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "base-url": BASE_URL,
            "headers": {"Authorization": f"Bearer {token}"},
            "continue-on-failure": True,
            "generation": {"max-examples": max_examples, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    report = FuzzReport()
    started = time.perf_counter()
    try:
        schema = schemathesis.openapi.from_asgi(
            "/openapi.json", app, config=config, headers={"Host": "localhost"}
        )
        for event in engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _tally(report, event.recorder)
            elif isinstance(event, events.NonFatalError):
                # An exception out of the app, which a server answers with a 500.
                report.errors += 1
                info = event.info
                curl = info.code_sample.strip().splitlines()[-1] if info.code_sample else ""
                report.failures.append(
                    Failure(event.label, "error", f"{info.title}: {info.message}", curl.strip())
                )
            elif isinstance(event, events.FatalError):
                report.errors += 1
                report.failures.append(Failure("-", "error", repr(event.exception)))
    finally:
        # The transport keeps an app's lifespan running until the process exits; end it here,
        # so the service's database and threads are closed with the run.
        asgi.shutdown_lifespans()
    report.seconds = time.perf_counter() - started
    return report


def _tally(report: FuzzReport, recorder: Any) -> None:
    for case_id, node in recorder.cases.items():
        report.cases += 1
        label = node.value.operation.label
        report.cases_by_operation[label] = report.cases_by_operation.get(label, 0) + 1
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        if response is not None and response.status_code >= 500:
            report.server_errors += 1
        sent = (
            f"{interaction.request.method} {interaction.request.uri} "
            f"{_short(interaction.request.body)}".rstrip()
            if interaction is not None
            else ""
        )
        status = response.status_code if response is not None else None
        for check in recorder.checks.get(case_id, ()):
            if check.failure_info is None:
                continue
            if check.name == "response_schema_conformance":
                report.schema_violations += 1
            elif check.name == "status_code_conformance":
                report.status_code_violations += 1
            elif check.name == "content_type_conformance":
                report.content_type_violations += 1
            title = check.failure_info.failure.title
            report.failures.append(Failure(recorder.label, check.name, title, sent, status))


def _short(body: bytes | None, limit: int = 120) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=200,
        help="generated requests per operation and generation mode (valid, invalid), besides "
        "the schema's examples, its boundary values and the stateful chains",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the counts and failures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    with (
        tempfile.TemporaryDirectory() as tmp,
        ArxivStandIn(
            catalog_from_listings(Path(__file__).resolve().parents[1] / "app/demo/data/listings")
        ) as standin,
    ):
        settings = fuzz_settings(Path(tmp), arxiv_api_url=standin.url)
        demo = prepare_demo(settings)
        print(
            f"service: {demo.labels} labels, model {demo.model_name}, "
            f"{sum(day.new for day in demo.days)} papers over {len(demo.days)} days"
        )
        report = run_fuzz(create_app(settings), max_examples=args.max_examples, seed=args.seed)

    print("\n| operation | cases |\n|---|---:|")
    for operation, count in sorted(report.cases_by_operation.items()):
        print(f"| {operation} | {count} |")
    print(
        f"\ncases {report.cases}, server errors {report.server_errors}, exceptions "
        f"{report.errors}, schema violations "
        f"{report.schema_violations}, undeclared status codes {report.status_code_violations}, "
        f"undeclared content types {report.content_type_violations} "
        f"({report.seconds:.0f} s)"
    )
    for failure in report.failures:
        print(f"FAIL {failure}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
