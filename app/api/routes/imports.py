"""Labels from what a reader has: an upload or pasted ids (``POST /labels/import``), and an
author's papers on arXiv to tick (``GET /seed/author``), whose ticked ids go to the same import."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.api.deps import ArxivDep, SessionDep, TopicDep, WriterDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import (
    AuthorCandidate,
    AuthorCandidatesResponse,
    LabelConflictPublic,
    LabelImportReport,
    SkippedReference,
)
from app.jobs.arxiv_source import ArxivClient, FetchError, RefusedError, author_query
from app.label_import import SEED_LIMIT
from app.label_import.service import (
    FileImportReport,
    author_candidates,
    import_file,
    set_modified,
)
from app.store.schema import utcnow
from training.inference.layout import DataError

router = APIRouter(
    tags=["labels"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

Format = Literal["csv", "ids", "bibtex", "csl-json", "ris"]
PASTED = "pasted text"
_UNREACHABLE = {503: "arXiv could not be asked (unreachable, or failing); nothing was stored"}

_TEXT_BODY = {
    "requestBody": {
        "content": {
            "text/plain": {
                "schema": {
                    "type": "string",
                    "description": "A file's content as the body: arXiv ids or URLs one a line, "
                    "BibTeX, CSL-JSON, RIS or a labelled CSV",
                }
            }
        }
    }
}


def report_public(report: FileImportReport) -> LabelImportReport:
    return LabelImportReport(
        source=report.source,
        format=report.format,  # type: ignore[arg-type]
        read=report.rows,
        new_labels=report.new_labels,
        changed_labels=report.changed_labels,
        unchanged=report.unchanged,
        added=report.new_papers,
        fetched=report.fetched,
        already_stored=report.already_stored,
        skipped=[
            SkippedReference(where=s.where, what=s.what, reason=s.reason) for s in report.skipped
        ],
        conflicts=[LabelConflictPublic.model_validate(c) for c in report.conflicts],
        summary=report.lines(),
    )


def _safe_name(name: str) -> str:
    """A file name for the upload's temporary copy (its extension is a format hint)."""
    base = re.sub(r"[^\w.-]", "_", Path(name.replace("\\", "/")).name).lstrip(".")
    return base[:100] or "upload"


def _import(
    session: Session,
    client: ArxivClient,
    *,
    name: str,
    data: bytes,
    format: str | None,
    prefer_file: bool,
    modified: dt.datetime | None,
    topic_id: int,
) -> FileImportReport:
    with tempfile.TemporaryDirectory(prefix="arxiv-reco-import-") as folder:
        path = Path(folder) / _safe_name(name)
        path.write_bytes(data)
        set_modified(path, modified or utcnow())
        try:
            report = import_file(
                session,
                path,
                client=client,
                name=name,
                format=format,
                prefer_file=prefer_file,
                topic_id=topic_id,
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return report


@router.post(
    "/labels/import",
    response_model=LabelImportReport,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS, 400, 404, 413, 503, notes={**_UNREACHABLE, 404: "No topic of that name"}
    ),
    openapi_extra=_TEXT_BODY,
    summary="Import labels from a file or pasted arXiv ids",
)
async def import_labels(
    request: Request,
    session: SessionDep,
    client: ArxivDep,
    topic: TopicDep,
    file: Annotated[
        UploadFile | None,
        File(description="BibTeX, CSL-JSON (Zotero, Mendeley), RIS, a labelled CSV, or ids"),
    ] = None,
    text: Annotated[
        str | None, Form(description="arXiv ids or URLs, one a line (or any format above)")
    ] = None,
    format: Annotated[  # noqa: A002 - the API's word for it
        Format | None, Query(description="Force a format; by default it is read from the content")
    ] = None,
    prefer_file: Annotated[
        bool,
        Query(description="Where a stored label was given later than the file's, take the file's"),
    ] = False,
    modified: Annotated[
        dt.datetime | None,
        Query(
            description="When the file was last changed, the time its labels carry (a label "
            "given later wins); default: now"
        ),
    ] = None,
) -> LabelImportReport:
    """Every paper the file names is labelled in the topic (interesting, unless a CSV says
    otherwise); those
    not stored are fetched from arXiv. All or nothing: a malformed file (422, naming the line) or
    an arXiv that cannot be reached (503) stores nothing. Entries without an arXiv id, ids arXiv
    does not know and papers named twice are skipped and listed."""
    if file is not None:
        name, data = file.filename or "upload", await file.read()
    elif text is not None:
        name, data = PASTED, text.encode("utf-8")
    elif request.headers.get("content-type", "").startswith("text/plain"):
        name, data = "request body", await request.body()
    else:
        raise validation_error(
            ("body",),
            "expected a file (multipart field 'file'), pasted ids (multipart field 'text') or a "
            "text/plain body",
        )
    if modified is not None and modified.tzinfo is None:
        modified = modified.replace(tzinfo=dt.timezone.utc)
    try:
        report = await run_in_threadpool(
            _import,
            session,
            client,
            name=name,
            data=data,
            format=format,
            prefer_file=prefer_file,
            modified=modified,
            topic_id=topic.id,
        )
    except DataError as err:
        raise validation_error(("body", "file" if file is not None else "text"), str(err)) from None
    except FetchError as err:
        raise HTTPException(503, f"nothing imported: {err}") from None
    return report_public(report)


@router.get(
    "/seed/author",
    response_model=AuthorCandidatesResponse,
    responses=error_responses(404, 503, notes={**_UNREACHABLE, 404: "No topic of that name"}),
    summary="An author's papers on arXiv, to tick your own",
)
def seed_author(
    session: SessionDep,
    client: ArxivDep,
    topic: TopicDep,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description='The name as arXiv lists it, e.g. "Geoffrey Hinton"',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=SEED_LIMIT, description="Newest papers listed")] = (
        SEED_LIMIT
    ),
) -> AuthorCandidatesResponse:
    """The author's newest papers on arXiv (``au:"Full Name"``), stored or not, with your
    labels. Post the ids of yours to ``/labels/import`` (as text) to store and label them."""
    try:
        query = author_query(name)
        candidates = author_candidates(
            session, client=client, name=name, limit=limit, topic_id=topic.id
        )
    except ValueError as err:
        raise validation_error(("query", "name"), str(err)) from None
    except RefusedError as err:
        raise validation_error(("query", "name"), f"arXiv refused the search: {err}") from None
    except FetchError as err:
        raise HTTPException(503, str(err)) from None
    return AuthorCandidatesResponse(
        name=name,
        query=query,
        papers=[
            AuthorCandidate(
                id=c.paper.id,
                version=c.paper.version,
                title=c.paper.title,
                authors=c.paper.authors,
                abstract=c.paper.abstract,
                categories=c.paper.categories,
                primary_category=c.paper.primary_category,
                submitted_on=c.paper.submitted_at.astimezone(dt.timezone.utc).date(),
                abs_url=c.paper.abs_url,
                pdf_url=c.paper.pdf_url,
                comment=c.paper.comment,
                journal_ref=c.paper.journal_ref,
                doi=c.paper.doi,
                stored=c.stored,
                label=c.label,
            )
            for c in candidates
        ],
    )
