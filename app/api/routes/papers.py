from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.orm import Session

from app.api.deps import PaperIdPath, SessionDep, TopicDep, TopicHolderDep
from app.api.errors import READER_ERRORS, JSONRoute, error_responses
from app.api.schemas import PaperDetail, PaperInTopic, PaperPublic
from app.serving.day import list_model
from app.serving.holder import LoadedModel, ModelHolder
from app.serving.reasons import reasons_for
from app.serving.registry import active_model, version_threshold
from app.serving.scoring import paper_score
from app.store import queries
from app.store.rules import is_recommended
from app.store.schema import Paper, Topic
from app.store.topics import list_topics

router = APIRouter(
    tags=["papers"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)


@router.get(
    "/papers/{paper_id:path}",
    response_model=PaperDetail,
    responses=error_responses(
        404, notes={404: "The paper is not in the database, or no topic of that name"}
    ),
)
def paper(
    paper_id: PaperIdPath,
    session: SessionDep,
    holder: TopicHolderDep,
    topic: TopicDep,
    request: Request,
) -> PaperDetail:
    """The paper with its score and label in the topic (default: the default topic); without
    ``?topic=``, also in every topic (``topics``)."""
    every = "topic" not in request.query_params
    return paper_detail(session, paper_id, holder=holder, topic=topic, every_topic=every)


def paper_detail(
    session: Session,
    paper_id: str,
    *,
    holder: ModelHolder,
    topic: Topic,
    every_topic: bool = False,
) -> PaperDetail:
    """``GET /papers/{id}``'s answer; ``every_topic``: the paper in every topic, for ``topics``
    (from the stored scores: no topic's model is loaded for it)."""
    row = queries.get_paper(session, paper_id=paper_id)
    if row is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    loaded = holder.get()
    here = _in_topic(session, row, topic, loaded)
    everywhere = (
        [_stored_in_topic(session, row, each) for each in list_topics(session, topic.reader_id)]
        if every_topic
        else []
    )
    return PaperDetail(
        **PaperPublic.model_validate(row).model_dump(),
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        probability=here.probability,
        recommended=here.recommended,
        label=here.label,
        reasons=reasons_for(session, loaded, [row])[row.id] if loaded is not None else None,
        topics=everywhere,
    )


def _in_topic(
    session: Session, row: Paper, topic: Topic, loaded: LoadedModel | None
) -> PaperInTopic:
    # The score its day's list shows: the active model's, or the previous one's until the
    # active model has re-scored that day.
    listed = list_model(session, day=row.submitted_on, active=loaded) if loaded else None
    probability = (
        paper_score(session, paper=row, model_version_id=listed.version_id)
        if listed is not None
        else None
    )
    return PaperInTopic(
        topic=topic.name,
        probability=probability,
        recommended=listed is not None and is_recommended(probability, listed.threshold),
        label=queries.labels_of(session, paper_ids=[row.id], topic_id=topic.id).get(row.id),
    )


def _stored_in_topic(session: Session, row: Paper, topic: Topic) -> PaperInTopic:
    """The paper in a topic as stored: the active version's score of it (None until that
    version has scored it) and the threshold in the version's directory."""
    version = active_model(session, topic_id=topic.id)
    probability = paper_score(session, paper=row, model_version_id=version.id) if version else None
    threshold = version_threshold(version) if version is not None else None
    return PaperInTopic(
        topic=topic.name,
        probability=probability,
        recommended=threshold is not None and is_recommended(probability, threshold),
        label=queries.labels_of(session, paper_ids=[row.id], topic_id=topic.id).get(row.id),
    )
