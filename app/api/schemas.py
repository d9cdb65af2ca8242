"""Request and response shapes of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr


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
    categories: list[str]
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


class PaperDetail(ScoredPaper):
    submitted_at: dt.datetime
    updated_at: dt.datetime | None
    label: int | None = None


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
    papers: int = Field(description="Stored papers")
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


class StatusResponse(BaseModel):
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
    model: ModelVersionPublic | None = Field(
        description="The active model, whose scores are shown; None when none is active"
    )
    papers: list[FoundPaperPublic] = Field(description="Best match first")


class SimilarResponse(BaseModel):
    paper_id: str
    model: ModelVersionPublic | None = Field(
        description="The active model, whose scores are shown; None when none is active"
    )
    papers: list[FoundPaperPublic] = Field(description="Most similar first; never the paper itself")
