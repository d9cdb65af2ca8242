"""Request and response shapes of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from app.core.arxiv_ids import ARXIV_ID_PATTERN


class ModelVersionPublic(BaseModel):
    id: int
    name: str
    method: str
    threshold: float | None = Field(
        description="Recommended means a probability at or above it; None when the model's "
        "files cannot be read"
    )


class PaperPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    version: int
    title: str
    authors: list[str]
    abstract: str
    categories: list[str] = Field(description="arXiv categories, e.g. cs.CL")
    subject_classes: list[str] = Field(
        default_factory=list,
        description='Mathematics Subject and ACM classes, e.g. "68T07 (Primary)", "I.2.7"',
    )
    primary_category: str
    submitted_on: dt.date
    abs_url: str
    pdf_url: str | None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


class ScoredPaper(PaperPublic):
    probability: float | None = Field(description="None until the model has scored the paper")
    recommended: bool
    reasons: list[str] | None = Field(
        None,
        description="Why the model likes it: the terms, authors and comment words that raised "
        "its score most (tfidf), or the reader's most similar interesting papers (other "
        "methods). In /recommendations with explain=true, for recommended papers; in "
        "/papers/{id}, always",
    )


class PaperInTopic(BaseModel):
    """The paper's score and label in one topic."""

    topic: str
    probability: float | None = Field(description="None: no model, or not scored yet")
    recommended: bool
    label: int | None = None


class PaperDetail(ScoredPaper):
    submitted_at: dt.datetime
    updated_at: dt.datetime | None
    label: int | None = None
    topics: list[PaperInTopic] = Field(
        default_factory=list,
        description="Without ?topic=: the paper in every topic, in the reader's order (the "
        "fields above are the default topic's); with it, empty",
    )


class RecommendationsResponse(BaseModel):
    date: dt.date
    model: ModelVersionPublic = Field(description="The model whose scores this list shows")
    active_model_id: int = Field(description="The model being served now")
    rescoring: bool = Field(
        False,
        description="True while a newly activated model has not reached this day yet: the list "
        "keeps the previous model's scores until it does",
    )
    threshold: float
    total_papers: int = Field(description="Papers of the day in the followed categories")
    recommended: int = Field(description="Papers at or above the threshold")
    pending: int = Field(description="Papers of the day the model has not scored yet")
    papers: list[ScoredPaper]


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    abstract: StrictStr = Field(description="The abstract to score")
    title: StrictStr | None = Field(
        None, description="Optional title, used if the model was trained on titles"
    )
    authors: list[StrictStr] | None = Field(
        None,
        description="Optional author names, one per item; used if the model reads authors "
        "(a tfidf model trained with metadata; its model card names the fields it reads)",
    )
    categories: list[StrictStr] | None = Field(
        None,
        description='Optional arXiv categories, e.g. ["cs.CL", "cs.LG"]; used if the model '
        "reads categories",
    )
    comment: StrictStr | None = Field(
        None,
        description='Optional arXiv comment, e.g. "ICML 2025; code: https://github.com/..."; '
        "used if the model reads comments",
    )


class ScoreResult(BaseModel):
    probability: float
    recommended: bool


class ScoreResponse(ScoreResult):
    threshold: float
    model: ModelVersionPublic


class BatchScoreResponse(BaseModel):
    threshold: float
    model: ModelVersionPublic
    results: list[ScoreResult]


class IngestRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    day: dt.date
    trigger: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    fetched: int
    new: int
    updated: int
    scored: int
    error: str | None


class RetrainPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trigger: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    method: str
    labels: int
    model_version_id: int | None
    activated: bool
    reason: str | None
    gate: dict[str, Any]
    seconds: float | None


class RescoringStatus(BaseModel):
    papers: int = Field(
        description="Papers of the listing days (not those that only came with imported labels)"
    )
    scored: int = Field(description="Papers the active model has scored in their current version")


class ModelStatus(BaseModel):
    version: ModelVersionPublic | None
    device: str | None
    scoring_path: str | None = Field(description="fp32, int8-dynamic (CPU) or sklearn")
    metrics: dict[str, Any]
    load_error: str | None
    regime: Literal["early", "measured"] | None = Field(
        None,
        description="early: trained from a few labels and the unlabelled papers, its threshold "
        "a prior (about N papers a day), nothing measured; measured: threshold and calibration "
        "chosen on held-out labels",
    )


class LabelProgress(BaseModel):
    """Where the labels stand: the regime the next retrain trains in, and what more a measured
    model needs."""

    regime: Literal["early", "measured"]
    positives: int
    negatives: int
    positives_needed: int = Field(description="More ✓ labels a measured model needs")
    negatives_needed: int = Field(description="More ✕ labels a measured model needs")
    message: str


class ResponseCacheStatus(BaseModel):
    enabled: bool = Field(
        description="Off on PostgreSQL and with ARXIV_RECO_RESPONSE_CACHE_ENTRIES=0"
    )
    entries: int
    hits: int = Field(description="Requests answered from memory since the process started")
    misses: int
    renders: int = Field(description="Lists rendered from the database since the process started")


class ProcessStatus(BaseModel):
    """This web process (each process of a service keeps its own)."""

    pid: int
    response_cache: ResponseCacheStatus
    frozen_objects: int = Field(
        description="Long-lived objects kept out of the garbage collector's scans at start "
        "(`arxiv-reco serve` only; see app.core.heap)"
    )


class StatusResponse(BaseModel):
    topic: str = Field(description="The topic whose model, retrain and labels are shown")
    model: ModelStatus
    labels: LabelProgress
    last_retrain: RetrainPublic | None = None
    rescoring: RescoringStatus | None = None
    categories: list[str]
    schedule_cron: str
    next_run_at: dt.datetime | None
    counts: dict[str, int]
    last_runs: list[IngestRunPublic]
    warnings: list[str]
    process: ProcessStatus


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the service runs, but something needs your attention (problems)"
    )
    database: Literal["ok"]
    model: Literal["ok", "none", "broken"] = Field(
        description="none: no model is active; broken: the active model's files failed to load"
    )
    problems: list[str] = Field(description="What is wrong, each in a sentence; empty when ok")


class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interest: Literal[0, 1]


class LabelPublic(BaseModel):
    paper_id: str
    interest: int | None


class ModelVersionDetail(BaseModel):
    id: int
    name: str
    method: str
    path: str
    threshold: float | None = Field(
        description="From the model directory; None when its files are gone"
    )
    is_active: bool
    created_at: dt.datetime
    activated_at: dt.datetime | None
    metrics: dict[str, Any]


class IngestStarted(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: Literal["started"]
    first: dt.date = Field(alias="from", description="First UTC day")
    last: dt.date = Field(alias="to", description="Last UTC day (inclusive)")


class IngestCancelled(BaseModel):
    status: Literal["cancelling"]


class FoundPaperPublic(PaperPublic):
    """A paper a search or "more like this" found, with your label and the active model's score."""

    first_seen_at: dt.datetime = Field(
        description="When this service first stored the paper: what `since` compares"
    )
    probability: float | None = Field(
        description="The active model's probability of interest; None without a model, or "
        "until that model has scored the paper's current version"
    )
    recommended: bool = Field(description="The probability is at or above the model's threshold")
    label: int | None = Field(description="Your label: 1 interesting, 0 not for me, None none")


class SearchResponse(BaseModel):
    query: str
    topic: str = Field(description="The topic whose labels and scores are shown")
    model: ModelVersionPublic | None = Field(
        description="The active model, whose scores are shown; None when none is active"
    )
    papers: list[FoundPaperPublic] = Field(description="Best match first")


class SimilarResponse(BaseModel):
    paper_id: str
    topic: str = Field(description="The topic whose labels and scores are shown")
    model: ModelVersionPublic | None = Field(
        description="The active model, whose scores are shown; None when none is active"
    )
    papers: list[FoundPaperPublic] = Field(description="Most similar first; never the paper itself")


class OnboardingPaper(PaperPublic):
    """A paper the onboarding asks about, and why it was chosen."""

    why: Literal["uncertain", "explore", "newest"] = Field(
        description="uncertain: the active model scores it near its threshold; explore: from a "
        "topic far from every paper you labelled; newest: no model yet, one typical paper of "
        "each topic of the newest stored days"
    )
    probability: float | None = Field(
        description="The active model's probability of interest; None without a model"
    )


class OnboardingProgress(BaseModel):
    labels: int = Field(description="Your labels, from every source")
    interesting: int = Field(description="Of them, interesting (1)")
    more_interesting: int = Field(description="Interesting labels a measured model still needs")
    more_not_interesting: int = Field(description="Not-for-me labels a measured model still needs")
    needed: int = Field(
        description="About how many labels a measured model needs in all (its threshold and "
        "test figures measured on the labels' date split); equal to labels once it has them"
    )
    measured: bool = Field(description="The labels make a measured model")


class OnboardingBatch(BaseModel):
    model: ModelVersionPublic | None = Field(
        description="The active model that chose the papers; None when none is active"
    )
    progress: OnboardingProgress
    papers: list[OnboardingPaper] = Field(
        description="Never a paper you labelled or skipped; empty when none is left"
    )


class OnboardingAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_id: StrictStr = Field(
        pattern=ARXIV_ID_PATTERN, description="A stored paper's arXiv id", examples=["2503.11742"]
    )
    interest: Literal[0, 1] | None = Field(
        description="1 interesting, 0 not for me, null skip (not asked again; a label given "
        "elsewhere stays)"
    )


class OnboardingRetrain(BaseModel):
    status: Literal["activated", "kept", "not_trained", "nothing_new", "failed"] = Field(
        description="activated: a new model serves now; kept: the new one did no better than "
        "the active one; not_trained: the labels cannot train a model yet; nothing_new: no "
        "label changed; failed: the retrain failed (the log says why)"
    )
    message: str = Field(description="What happened, in a sentence for the reader")
    model: ModelVersionPublic | None = Field(description="The model active after it")


class OnboardingAnswered(BaseModel):
    labelled: int = Field(description="Labels set or changed")
    skipped: int
    retrain: OnboardingRetrain
    progress: OnboardingProgress


class CategoriesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[StrictStr] = Field(
        max_length=500,
        description='Every category to follow from now on, e.g. ["cs.CL", "cs.LG"]; the '
        "added ones get their recent days fetched, the removed ones are no longer fetched",
    )


class CategoryBackfillPublic(BaseModel):
    categories: list[str] = Field(description="The categories last added")
    first: dt.date
    last: dt.date
    state: Literal["running", "done", "failed", "stopped"] = Field(
        description="stopped: cancelled or interrupted before every day was fetched"
    )
    days: int
    days_done: int
    new_papers: int
    errors: list[str] = Field(description="Each failed day, with why")
    message: str = Field(description="Its state, in a sentence for the reader")


class CategoriesResponse(BaseModel):
    categories: list[str] = Field(description="The followed categories")
    source: Literal["database", "environment"] = Field(
        description="environment: none stored yet, ARXIV_RECO_CATEGORIES is followed"
    )
    environment: list[str] = Field(description="ARXIV_RECO_CATEGORIES, the first default")
    added: list[str] = Field(default_factory=list, description="Added by this request")
    removed: list[str] = Field(default_factory=list, description="Removed by this request")
    backfill: CategoryBackfillPublic | None = Field(
        description="The fetch of the recent days of the categories last added; None when none "
        "was added here"
    )


class SkippedReference(BaseModel):
    where: str = Field(description='Where in the file: "line 3", or "item 2" of a CSL-JSON list')
    what: str = Field(description="The arXiv id, or the entry's citation key and title")
    reason: str = Field(
        description="Why: no arXiv id in the entry, arXiv does not know the id, named again..."
    )


class LabelConflictPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    paper_id: str
    stored: int = Field(description="The stored label")
    stored_source: str = Field(description="Where the stored label came from (web, csv, email...)")
    stored_at: dt.datetime = Field(description="When the stored label was given")
    file: int = Field(description="The file's label")
    kept: Literal["stored", "file"] = Field(
        description="stored: given later than the file's; file: newer, or prefer_file"
    )


class LabelImportReport(BaseModel):
    source: str = Field(description="The file's name, or 'pasted text'")
    format: Literal["csv", "ids", "bibtex", "csl-json", "ris"]
    read: int = Field(description="Rows, ids, entries, items or records the file holds")
    new_labels: int
    changed_labels: int
    unchanged: int
    added: int = Field(description="Papers stored from the file's own columns (a full CSV)")
    fetched: list[str] = Field(description="Papers fetched from arXiv and stored")
    already_stored: list[str] = Field(description="Papers the service had already")
    skipped: list[SkippedReference]
    conflicts: list[LabelConflictPublic] = Field(
        description="Papers whose stored label and the file's disagree, and which one was kept"
    )
    summary: list[str] = Field(description="The report in plain words, one line each")


class AuthorCandidate(PaperPublic):
    stored: bool = Field(description="The service has the paper")
    label: int | None = Field(description="Your label: 1 interesting, 0 not for me, None none")


class AuthorCandidatesResponse(BaseModel):
    name: str
    query: str = Field(description='The arXiv search asked, au:"Full Name"')
    papers: list[AuthorCandidate] = Field(description="Newest first")


class TopicRequest(BaseModel):
    """A topic's name: a slug (lower-case letters, digits, single hyphens), unique."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["llm-evaluation"])


class TopicChange(BaseModel):
    """A new name, a new place in the reader's order (0 first), or both."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    position: StrictInt | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _something(self) -> TopicChange:
        if self.name is None and self.position is None:
            raise ValueError("give a new name, a position, or both")
        return self


class TopicPublic(BaseModel):
    name: str
    position: int = Field(description="The reader's order: the switcher and the digest follow it")
    labels: int
    active_model_id: int | None


class TopicDeleted(BaseModel):
    name: str
    labels: int = Field(description="Labels deleted, exported first to labels_export")
    model_versions: int
    model_directories_removed: int = Field(
        description="Its model directories the service had made (in the model directory); one "
        "registered from elsewhere stays on disk"
    )
    retrain_runs: int
    labels_export: str = Field(description="The CSV the topic's labels were exported to")


class ReaderRequest(BaseModel):
    """A new reader: a name (a slug, as a topic's) and, optionally, where their digest goes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["ada"])
    email: str | None = Field(default=None, max_length=320, examples=["ada@example.org"])


class ReaderPublic(BaseModel):
    name: str
    email: str | None = Field(description="Where the reader's digest goes (None: no digest)")
    topics: list[str] = Field(description="The reader's topics, in the reader's order")
    labels: int = Field(description="Labels in all the reader's topics")
    created_at: dt.datetime
    token_created_at: dt.datetime | None
    feed_url: str | None = Field(
        default=None,
        description="GET /me only: the reader's Atom feed, with a key that stands in for the "
        "token (a feed reader sends none); a new token changes it",
    )


class ReaderCreated(ReaderPublic):
    token: str = Field(
        description="The reader's token, shown this once (only its hash is stored): the reader "
        "sends it as 'Authorization: Bearer <token>' or signs in with it on the page"
    )
    took_existing_data: bool = Field(
        description="The first reader made takes the install's topics, labels and models"
    )


class ReaderToken(BaseModel):
    name: str
    token: str = Field(description="The new token, shown this once; the old one no longer works")


class ReaderRemoved(BaseModel):
    name: str
    topics: int
    labels: int = Field(description="Labels deleted, exported first to labels_export")
    labels_export: str | None
    model_directories_removed: int


class ReaderChange(BaseModel):
    """A reader's own settings: where their digest goes (null or "": no digest)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(max_length=320, examples=["ada@example.org"])
