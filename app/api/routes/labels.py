from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.deps import ArxivDep, PaperIdPath, SessionDep, TopicDep, WriterDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses
from app.api.schemas import LabelPublic, LabelRequest
from app.jobs.arxiv_source import FetchError
from app.label_import.service import NotOnArxiv, fetch_and_store
from app.store import queries
from app.store.labels import clear_label, labels_csv_text, set_label

router = APIRouter(
    tags=["labels"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

_NOT_STORED = {404: "The paper is not in the database, or no topic of that name"}
_FETCHED = {
    404: "arXiv does not know the paper, or no topic of that name",
    503: "The paper is not stored, and arXiv could not be asked for it",
}


@router.post(
    "/papers/{paper_id:path}/label",
    response_model=LabelPublic,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 404, 413, 503, notes=_FETCHED),
)
def label_paper(
    paper_id: PaperIdPath,
    body: LabelRequest,
    session: SessionDep,
    client: ArxivDep,
    topic: TopicDep,
) -> LabelPublic:
    """Label a paper in a topic. A paper the service does not have is fetched from arXiv and
    stored first."""
    paper = queries.get_paper(session, paper_id=paper_id)
    if paper is None:
        try:
            paper = fetch_and_store(session, client=client, paper_id=paper_id)
        except NotOnArxiv as err:
            raise HTTPException(404, str(err)) from None
        except FetchError as err:
            raise HTTPException(
                503, f"paper {paper_id} is not stored and could not be fetched from arXiv: {err}"
            ) from None
    label = set_label(
        session, paper_id=paper.id, interest=body.interest, source="web", topic_id=topic.id
    )
    session.commit()
    return LabelPublic(paper_id=paper.id, interest=label.interest)


@router.delete(
    "/papers/{paper_id:path}/label",
    response_model=LabelPublic,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 404, notes=_NOT_STORED),
)
def unlabel_paper(paper_id: PaperIdPath, session: SessionDep, topic: TopicDep) -> LabelPublic:
    paper = queries.get_paper(session, paper_id=paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    clear_label(session, paper_id=paper.id, topic_id=topic.id)
    session.commit()
    return LabelPublic(paper_id=paper.id, interest=None)


@router.get(
    "/labels.csv",
    response_class=Response,
    responses=error_responses(404, notes={404: "No topic of that name"}),
)
def labels_csv(
    session: SessionDep,
    topic: TopicDep,
    all_topics: Annotated[
        bool,
        Query(description="Every topic's labels, a topic column naming each row's topic"),
    ] = False,
) -> Response:
    """The topic's labels in the notebook's CSV layout (``all_topics``: every topic's, which
    ``POST /labels/import`` takes back whole)."""
    return Response(
        labels_csv_text(session, None if all_topics else topic.id, topic.reader_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
    )
