from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from app import crud
from app.api.deps import PaperIdPath, SessionDep, WriterDep
from app.api.errors import WRITE_ERRORS, JSONRoute, error_responses
from app.api.schemas import LabelPublic, LabelRequest
from app.labels import clear_label, labels_csv_text, set_label

router = APIRouter(tags=["labels"], route_class=JSONRoute)

_NOT_STORED = {404: "The paper is not in the database"}


@router.post(
    "/papers/{paper_id:path}/label",
    response_model=LabelPublic,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 404, 413, notes=_NOT_STORED),
)
def label_paper(paper_id: PaperIdPath, body: LabelRequest, session: SessionDep) -> LabelPublic:
    paper = crud.get_paper(session, paper_id=paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    label = set_label(session, paper_id=paper.id, interest=body.interest, source="web")
    session.commit()
    return LabelPublic(paper_id=paper.id, interest=label.interest)


@router.delete(
    "/papers/{paper_id:path}/label",
    response_model=LabelPublic,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 404, notes=_NOT_STORED),
)
def unlabel_paper(paper_id: PaperIdPath, session: SessionDep) -> LabelPublic:
    paper = crud.get_paper(session, paper_id=paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    clear_label(session, paper_id=paper.id)
    session.commit()
    return LabelPublic(paper_id=paper.id, interest=None)


@router.get("/labels.csv", response_class=Response)
def labels_csv(session: SessionDep) -> Response:
    return Response(
        labels_csv_text(session),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
    )
