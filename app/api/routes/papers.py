from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.api.deps import PaperIdPath, SessionDep, TopicDep, TopicHolderDep
from app.api.errors import JSONRoute, error_responses
from app.api.schemas import PaperDetail, PaperPublic
from app.serving.day import list_model
from app.serving.reasons import reasons_for
from app.serving.scoring import paper_score
from app.store import queries
from app.store.rules import is_recommended

router = APIRouter(tags=["papers"], route_class=JSONRoute)


@router.get(
    "/papers/{paper_id:path}",
    response_model=PaperDetail,
    responses=error_responses(
        404, notes={404: "The paper is not in the database, or no topic of that name"}
    ),
)
def paper(
    paper_id: PaperIdPath, session: SessionDep, holder: TopicHolderDep, topic: TopicDep
) -> PaperDetail:
    """The paper with its score and label in the topic (default: the default topic)."""
    row = queries.get_paper(session, paper_id=paper_id)
    if row is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    loaded = holder.get()
    # The score its day's list shows: the active model's, or the previous one's until the
    # active model has re-scored that day.
    listed = list_model(session, day=row.submitted_on, active=loaded) if loaded else None
    probability = (
        paper_score(session, paper=row, model_version_id=listed.version_id)
        if listed is not None
        else None
    )
    return PaperDetail(
        **PaperPublic.model_validate(row).model_dump(),
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        probability=probability,
        recommended=listed is not None and is_recommended(probability, listed.threshold),
        label=queries.labels_of(session, paper_ids=[row.id], topic_id=topic.id).get(row.id),
        reasons=reasons_for(session, loaded, [row])[row.id] if loaded is not None else None,
    )
