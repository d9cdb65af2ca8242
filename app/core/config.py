"""The one typed settings object, read by the API, the scheduler, Alembic and the CLI.

Every value comes from an ``ARXIV_RECO_``-prefixed environment variable or an optional ``.env``
file. A bad value fails at start with pydantic's message, which names the setting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from apscheduler.triggers.cron import CronTrigger
from platformdirs import user_data_path
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ARXIV_RECO_"
APP_NAME = "arxiv-reco"
DEFAULT_BASE_MODEL = "answerdotai/ModernBERT-base"
ARXIV_API_URL = "https://export.arxiv.org/api/query"

TAXONOMY_FILE = Path(__file__).with_name("arxiv_categories.tsv")


@cache
def arxiv_categories() -> dict[str, str]:
    """arXiv's active categories (``cs.LG``, ``hep-th``, ...) and their names."""
    rows = TAXONOMY_FILE.read_text(encoding="utf-8").splitlines()
    return dict(row.split("\t", 1) for row in rows if row and not row.startswith("#"))


# An arXiv category's name (cs.LG, hep-th, cond-mat.mes-hall, retired ones too). arXiv's API
# lists a paper's Mathematics Subject and ACM classes ("68T07 (Primary)", "I.2.7; K.4.1") among
# its category terms as well: those never match.
_CATEGORY_NAME = re.compile(r"[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?")


def split_subject_classes(terms: Iterable[str]) -> tuple[list[str], list[str]]:
    """arXiv's category terms of a paper as its arXiv categories and its subject classes (MSC,
    ACM), each in order and once."""
    categories: list[str] = []
    classes: list[str] = []
    for term in terms:
        term = " ".join(str(term).split())
        into = categories if _CATEGORY_NAME.fullmatch(term) else classes
        if term and term not in into:
            into.append(term)
    return categories, classes


def unknown_category(name: str) -> str | None:
    """Why ``name`` is not an arXiv category (with the nearest ones), or None if it is."""
    known = arxiv_categories()
    if name in known:
        return None
    same = [c for c in known if c.lower() == name.lower()]
    near = same or difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return f"{name!r} is not an arXiv category{hint}; see https://arxiv.org/category_taxonomy"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=lambda: user_data_path(APP_NAME),
        description="Where the database, models and backups live; made absolute at start. "
        "Default: the user's data directory (~/.local/share/arxiv-reco on Linux).",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <data_dir>/arxiv_reco.db."
    )
    categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["cs.AI", "cs.CL", "cs.LG"],
        description="Followed arXiv categories, comma-separated; cross-lists are included.",
    )
    schedule_cron: str = Field(
        "30 1 * * *",
        description="Daily ingestion, crontab in UTC. arXiv announces at 00:00 UTC (20:00 ET).",
    )
    scheduler_enabled: bool = Field(True, description="Run the daily job inside the service.")
    worker_poll_seconds: float = Field(
        10.0,
        ge=0.1,
        le=3600,
        description="How often `arxiv-reco worker` looks for a model activated elsewhere.",
    )
    arxiv_api_url: str = Field(ARXIV_API_URL, description="arXiv export API query endpoint.")
    page_size: int = Field(200, ge=1, le=2000, description="Results per arXiv API request.")
    request_delay_seconds: float = Field(
        3.0, ge=0, description="Pause between arXiv API requests (arXiv asks for 3 s)."
    )
    request_timeout_seconds: float = Field(30.0, gt=0, description="HTTP timeout per request.")
    retries: int = Field(4, ge=0, le=20, description="Retries of a failed fetch, with backoff.")
    connect_retries: int = Field(
        1,
        ge=0,
        le=20,
        description="Retries when arXiv cannot be reached at all (DNS, refused connection), "
        "2 s apart: offline, a day fails in seconds with a clear message.",
    )
    retry_backoff_seconds: float = Field(
        5.0, ge=0, description="First backoff; doubles on each retry."
    )
    lookback_days: int = Field(3, ge=1, le=60, description="Days the daily job (re)ingests.")
    max_ingest_days: int = Field(
        92,
        ge=1,
        le=3660,
        description="Most days one backfill (`POST /ingest`, `arxiv-reco ingest`) may span.",
    )
    backup_keep: int = Field(
        7,
        ge=0,
        le=3650,
        description="Nightly backups kept (database and labels CSV), after the daily "
        "ingestion; 0 turns nightly backups off.",
    )
    backup_dir: Path | None = Field(
        None, description="Where backups go; empty means <data_dir>/backups."
    )
    model_dir: Path | None = Field(
        None, description="Where trained models are kept; empty means <data_dir>/models."
    )
    model_store: str | None = Field(
        None,
        description="A URL fsspec reaches (s3://bucket/models, file:///srv/shared/models) where "
        "every retrain's model is uploaded and registered by URL, so that processes on other "
        "hosts load it (from a copy in ARXIV_RECO_MODEL_CACHE, default ~/.cache/arxiv-reco/"
        "models); empty: models stay in the model directory.",
    )
    device: Literal["auto", "cuda", "mps", "cpu"] = Field("auto", description="Device for scoring.")
    scoring_precision: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        description="auto scores with int8 on the CPU when the model passed its int8 accuracy "
        "check at training time, fp32 otherwise.",
    )
    score_batch_size: int = Field(16, ge=1, le=1024, description="Abstracts per scoring batch.")
    score_max_items: int = Field(64, ge=1, description="Most abstracts in one POST /score.")
    score_max_chars: int = Field(20_000, ge=100, description="Longest abstract POST /score takes.")
    retrain_method: Literal["finetune", "tfidf", "embed"] = Field(
        "tfidf", description="Method of `arxiv-reco retrain` and the page's button."
    )
    retrain_base_model: str = Field(
        DEFAULT_BASE_MODEL, description="Encoder for finetune/embed retrains (id or path)."
    )
    retrain_recency_half_life_days: float | None = Field(
        None,
        gt=0,
        description="A retrain weighs each label by its age, halving every this many days "
        "before the newest label; none weighs all labels alike.",
    )
    retrain_c: float = Field(
        1.0,
        ge=0,
        description="Logistic regression C of a tfidf or embed retrain. 0: each retrain "
        "chooses C from a grid on its date split's validation labels, which the nightly replay "
        "found worse (bench/README.md, recipes.py).",
    )
    retrain_second_stage: bool = Field(
        True,
        description="A tfidf retrain adds a second stage: the text model's score beside the "
        "authors' and the primary category's record, links to code or a project page and a "
        "few counts (training.stack; chosen by the nightly replay, bench/README.md).",
    )
    retrain_tfidf_char_ngrams: bool = Field(
        False, description="A tfidf retrain adds character 3-5-grams of the text."
    )
    retrain_tolerance: float = Field(
        0.0, ge=0, le=1, description="A retrain is activated if its test AP is at most this worse."
    )
    nightly_retrain: bool = Field(
        True,
        description="After the daily ingestion, retrain when the labels changed since the active "
        "model was trained, gate it, activate it and re-score every stored day.",
    )
    retrain_gate_min_positives: int = Field(
        5,
        ge=1,
        description="Interesting labels the active model was not fit on that the gate needs to "
        "compare the two models on them; with fewer, a refit of the same method replaces it.",
    )
    retrain_threshold_strategy: Literal["f1", "precision", "recall", "per_day"] = Field(
        "f1",
        description="How a retrain chooses its threshold on validation: best f1, a target "
        "precision or recall, or an expected number of recommended papers a day (per_day).",
    )
    retrain_threshold_target: float | None = Field(
        None,
        gt=0,
        description="The target of precision/recall (0..1) or per_day (papers); none for f1.",
    )
    early_daily_picks: int = Field(
        10,
        ge=1,
        le=200,
        description="An early model (too few labels to measure one) recommends about this many "
        "papers of a typical day.",
    )
    early_weak_negatives: int = Field(
        5000,
        ge=100,
        description="An early model trains on at most this many unlabelled stored papers, "
        "each a weak “not for me”.",
    )
    early_weak_negative_weight: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Weight of an unlabelled stored paper (a weak “not for me”) in an early "
        "model, against an explicit ✕ (1).",
    )
    early_pseudo_positives: int = Field(
        30,
        ge=0,
        le=1000,
        description="An early model is refit once with the stored papers its first fit likes "
        "most as weak ✓ (pseudo-relevance feedback); 0 turns it off.",
    )
    response_cache_entries: int = Field(
        512, ge=0, description="Rendered recommendation lists kept until the next commit; 0: off."
    )
    job_process: bool = Field(
        True,
        description="Run ingestion and scoring in a child process, so a day being scored never "
        "slows the API; false runs them in a thread of the service.",
    )
    background_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Niceness of the ingestion and scoring threads, so the API keeps answering "
        "while a day is scored; 0 leaves them at the service's priority.",
    )
    feed_days: int = Field(7, ge=1, le=60, description="Days in /feed.atom.")
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token for writes. Unset, writes are taken only from this machine "
        "(loopback) when the service listens on a loopback address, and a token is generated "
        "into <data_dir>/api_token at first start when it listens on any other.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names clients reach the service by (comma-separated), besides "
        "localhost; requests naming another Host are refused (DNS rebinding). Empty: only "
        "loopback names when listening on loopback, any name otherwise.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Reverse proxies whose X-Forwarded-For/-Proto headers are trusted "
        "(comma-separated IPs, or *), as uvicorn's --forwarded-allow-ips.",
    )
    host: str = Field("127.0.0.1", description="Address `arxiv-reco serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `arxiv-reco serve` listens on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest request body the service reads; a larger one is answered 413 before "
        "it is read. The default holds the largest POST /score the caps allow, 64 papers of "
        "20,000 characters each written as 6-byte \\u escapes.",
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server of the daily digest email; unset: no digest is sent.",
    )
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; unset: 587 for starttls, 465 for ssl, 25 for none.",
    )
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="starttls upgrades a plain connection to TLS, ssl connects with TLS (SMTPS), "
        "none sends in the clear (a relay on this machine).",
    )
    smtp_user: str | None = Field(None, description="SMTP login; unset: no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (environment).")
    smtp_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries of a digest send that failed for a passing reason (no connection, "
        "a 4xx answer) within one daily run, 30 s, then 60 s, ... apart; the next daily run "
        "tries again in any case.",
    )
    digest_from: str | None = Field(
        None, description="Sender address of the digest; unset: smtp_user."
    )
    digest_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Recipients of the digest (comma-separated); needed with smtp_host.",
    )
    digest_secret: SecretStr | None = Field(
        None,
        description="Key that signs the digest's label links (HMAC-SHA256), 16 characters or "
        "more; unset: one is generated into <data_dir>/digest_secret at first use.",
    )
    digest_link_days: int = Field(
        14, ge=1, le=365, description="Days a digest's label links stay valid."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The service's address as the reader's browser reaches it (scheme, host, "
        "port, path prefix), for the digest's links.",
    )

    @field_validator("categories", "allowed_hosts", "digest_to", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one arXiv category is required, e.g. cs.LG")
        problems = [p for p in map(unknown_category, value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        bad = [h for h in value if not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", h)]
        if bad:
            raise ValueError(
                f"not host names: {bad}; give bare names like reco.example.org, without a "
                "scheme, port, path or wildcard"
            )
        return [h.lower() for h in value]

    @field_validator("schedule_cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as err:
            raise ValueError(f"not a crontab expression {value!r}: {err}") from err
        return value

    @field_validator("arxiv_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("?")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Fixed at start: a command run from another directory finds the same database.
        return value.expanduser().absolute()

    @field_validator("api_token")
    @classmethod
    def _empty_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(
                f"expected an http(s) URL like https://reco.example.org, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("smtp_host", "smtp_user", "digest_from", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_password", "digest_secret")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        return value

    @field_validator("digest_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                f"the digest secret has {len(value.get_secret_value())} characters; give 16 or "
                "more, or leave it unset for a generated one"
            )
        return value

    @field_validator("digest_to", "digest_from")
    @classmethod
    def _check_addresses(cls, value: list[str] | str | None) -> list[str] | str | None:
        addresses = [value] if isinstance(value, str) else value or []
        bad = [a for a in addresses if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", a)]
        if bad:
            raise ValueError(f"not email addresses: {bad}; give bare ones like you@example.org")
        return value

    @model_validator(mode="after")
    def _check_digest(self) -> Settings:
        if self.smtp_password is not None and self.smtp_user is None:
            raise ValueError("smtp_password is set but smtp_user is not: give both to log in")
        if self.smtp_host is None:
            return self
        if not self.digest_to:
            raise ValueError("smtp_host is set (the daily digest) but digest_to is empty")
        if self.digest_from is None and "@" not in (self.smtp_user or ""):
            raise ValueError(
                "smtp_host is set (the daily digest) but digest_from is not, and smtp_user is "
                "not an address to send from"
            )
        return self

    @model_validator(mode="after")
    def _check_threshold_target(self) -> Settings:
        strategy, target = self.retrain_threshold_strategy, self.retrain_threshold_target
        if strategy == "f1" and target is not None:
            raise ValueError(
                "retrain_threshold_target is only used with precision, recall, per_day"
            )
        if strategy != "f1" and target is None:
            raise ValueError(
                f"retrain_threshold_strategy {strategy} needs retrain_threshold_target"
            )
        if strategy in ("precision", "recall") and target is not None and target > 1:
            raise ValueError(
                f"retrain_threshold_target for {strategy} must be in (0, 1], got {target}"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'arxiv_reco.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def digest_enabled(self) -> bool:
        return self.smtp_host is not None

    @property
    def resolved_smtp_port(self) -> int:
        return self.smtp_port or {"starttls": 587, "ssl": 465, "none": 25}[self.smtp_tls]

    @property
    def digest_sender(self) -> str:
        return self.digest_from or self.smtp_user or ""

    def cron_trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.schedule_cron, timezone="UTC")


@lru_cache
def get_settings() -> Settings:
    return Settings()
