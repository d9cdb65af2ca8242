"""Onboarding: the papers whose answers teach the model most, and the answers.

The choosing and the retrain it starts are ``app.jobs.onboarding``'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from app.api.deps import ServicesDep, SessionDep, TopicDep, TopicHolderDep, WriterDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import (
    ModelVersionPublic,
    OnboardingAnswer,
    OnboardingAnswered,
    OnboardingBatch,
    OnboardingPaper,
    OnboardingProgress,
    OnboardingRetrain,
    PaperPublic,
)
from app.core.arxiv_ids import split_version
from app.jobs.onboarding import (
    BATCH_SIZE,
    Progress,
    measured_progress,
    next_batch,
    picked_papers,
    retrain_on_answers,
    store_answers,
    unknown_papers,
)
from app.serving.holder import LoadedModel
from app.store.schema import utcnow

router = APIRouter(
    tags=["onboarding"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

MAX_BATCH = 50
MAX_ANSWERS = 200


def model_public(loaded: LoadedModel | None) -> ModelVersionPublic | None:
    if loaded is None:
        return None
    return ModelVersionPublic(
        id=loaded.version_id, name=loaded.name, method=loaded.method, threshold=loaded.threshold
    )


def progress_public(progress: Progress) -> OnboardingProgress:
    return OnboardingProgress(
        labels=progress.labels,
        interesting=progress.interesting,
        more_interesting=progress.more_interesting,
        more_not_interesting=progress.more_not_interesting,
        needed=progress.needed,
        measured=progress.measured,
    )


@router.get(
    "/onboarding/next",
    response_model=OnboardingBatch,
    responses=error_responses(404, notes={404: "No topic of that name"}),
)
def onboarding_next(
    session: SessionDep,
    topic: TopicDep,
    holder: TopicHolderDep,
    limit: Annotated[
        int, Query(ge=1, le=MAX_BATCH, description="Papers to ask about")
    ] = BATCH_SIZE,
) -> OnboardingBatch:
    """The stored papers whose answers would teach the topic's active model (``?topic=``) most:
    those it scores near its threshold, kept diverse, and a few from subjects far from your
    labels (`why`); without a model, one typical paper of each subject of the newest stored days.
    Never a paper you labelled or skipped in the topic. Scored by the active model now, not by
    the background re-scoring."""
    loaded = holder.get()
    picks = next_batch(session, loaded, size=limit, topic_id=topic.id)
    return OnboardingBatch(
        model=model_public(loaded),
        progress=progress_public(measured_progress(session, topic_id=topic.id)),
        papers=[
            OnboardingPaper(
                **PaperPublic.model_validate(paper).model_dump(),
                why=pick.why,
                probability=pick.probability,
            )
            for paper, pick in picked_papers(session, picks)
        ],
    )


@router.post(
    "/onboarding/answers",
    response_model=OnboardingAnswered,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 404, 413, notes={404: "No topic of that name"}),
)
def onboarding_answers(
    services: ServicesDep,
    session: SessionDep,
    topic: TopicDep,
    holder: TopicHolderDep,
    answers: Annotated[
        list[OnboardingAnswer],
        Body(min_length=1, max_length=MAX_ANSWERS, description="One answer per paper"),
    ],
) -> OnboardingAnswered:
    """Store the answers in the topic (``?topic=``; labels with source `onboarding`; null skips
    the paper, which is not asked again there), then retrain the topic on every label of it and
    activate the new model through the usual gate, so that the next `GET /onboarding/next` is
    chosen by it. 422 for a paper that is not stored or answered twice; nothing is stored
    then."""
    ids = [split_version(answer.paper_id)[0] for answer in answers]
    seen: set[str] = set()
    for index, paper_id in enumerate(ids):
        if paper_id in seen:
            raise validation_error(
                ("body", index, "paper_id"), f"paper {paper_id} is answered twice; answer once"
            )
        seen.add(paper_id)
    for paper_id in unknown_papers(session, ids):
        raise validation_error(
            ("body", ids.index(paper_id), "paper_id"),
            f"paper {paper_id} is not in the database; answer the papers the onboarding shows",
        )
    stored = store_answers(
        session,
        [(paper_id, answer.interest) for paper_id, answer in zip(ids, answers, strict=True)],
        now=utcnow(),
        topic_id=topic.id,
    )
    session.commit()
    report = retrain_on_answers(
        services.sessions,
        services.settings,
        changed=stored.labelled,
        job=services.job,
        topic_id=topic.id,
    )
    return OnboardingAnswered(
        labelled=stored.labelled,
        skipped=stored.skipped,
        retrain=OnboardingRetrain(
            status=report.status, message=report.message, model=model_public(holder.get())
        ),
        progress=progress_public(measured_progress(session, topic_id=topic.id)),
    )
