"""Topics: ``GET /topics``, ``POST /topics``, ``PATCH|DELETE /topics/{name}``.

A topic is one of the reader's interests, with its own labels, models and day list; other
routes name one with ``?topic=`` (default ``default``). Each reader sees and changes only their
own topics: another reader's topic is unknown here (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.deps import CallerDep, ServicesDep, SessionDep, SettingsDep, WriterDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import TopicChange, TopicDeleted, TopicPublic, TopicRequest
from app.jobs.lock import PROBE_GRACE_SECONDS, TOPIC_DELETION, JobBusy
from app.serving.registry import active_model
from app.serving.store import remove as remove_stored
from app.store import queries
from app.store.labels import export_labels_csv
from app.store.schema import Topic
from app.store.topics import (
    TopicError,
    TopicExists,
    TopicNotFound,
    check_deletable,
    create_topic,
    delete_topic,
    find_topic,
    labels_export_path,
    list_topics,
    move_topic,
    remove_model_directories,
    rename_topic,
)

router = APIRouter(
    tags=["topics"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

_UNKNOWN = {404: "No topic of that name"}


def _public(session: Session, topic: Topic) -> TopicPublic:
    active = active_model(session, topic_id=topic.id)
    return TopicPublic(
        name=topic.name,
        position=topic.position,
        labels=queries.label_count(session, topic_id=topic.id),
        active_model_id=active.id if active is not None else None,
    )


def _found(session: Session, name: str, reader_id: int) -> Topic:
    try:
        return find_topic(session, name, reader_id)
    except TopicNotFound as err:
        raise HTTPException(404, str(err)) from None


@router.get("/topics", response_model=list[TopicPublic])
def topics(session: SessionDep, caller: CallerDep) -> list[TopicPublic]:
    """The reader's every topic, in the reader's order."""
    return [_public(session, topic) for topic in list_topics(session, caller.reader_id)]


@router.post(
    "/topics",
    response_model=TopicPublic,
    status_code=201,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS, 409, notes={409: "A topic of that name exists"}),
)
def add_topic(body: TopicRequest, session: SessionDep, caller: CallerDep) -> TopicPublic:
    try:
        topic = create_topic(session, body.name, caller.reader_id)
        session.commit()
    except TopicExists as err:
        raise HTTPException(409, str(err)) from None
    except IntegrityError:  # the same name, created meanwhile by another request
        session.rollback()
        raise HTTPException(
            409, f"a topic named {body.name.strip().lower()!r} exists already"
        ) from None
    except TopicError as err:
        raise validation_error(("body", "name"), str(err)) from None
    return _public(session, topic)


@router.patch(
    "/topics/{name}",
    response_model=TopicPublic,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        404,
        409,
        notes={**_UNKNOWN, 409: "A topic of the new name exists, or renaming the default topic"},
    ),
)
def change(name: str, body: TopicChange, session: SessionDep, caller: CallerDep) -> TopicPublic:
    """Rename a topic (its labels, models and scores stay), or move it in the reader's order
    (the page's switcher and the digest's parts follow it)."""
    mine = caller.reader_id
    topic = _found(session, name, mine)
    try:
        if body.name is not None:
            topic = rename_topic(session, name, body.name, mine)
        if body.position is not None:
            topic = move_topic(session, topic.name, body.position, mine)
    except TopicExists as err:
        raise HTTPException(409, str(err)) from None
    except TopicError as err:
        if "takes every request" in str(err):
            raise HTTPException(409, str(err)) from None
        raise validation_error(("body", "name"), str(err)) from None
    session.commit()
    return _public(session, topic)


@router.delete(
    "/topics/{name}",
    response_model=TopicDeleted,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        404,
        409,
        notes={
            **_UNKNOWN,
            409: "The default topic, which is never deleted, or a job is running",
        },
    ),
)
def remove(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    caller: CallerDep,
    confirm: Annotated[
        str, Query(max_length=64, description="The topic's name again: deleting cannot be undone")
    ],
) -> TopicDeleted:
    """Delete a topic: its labels are exported to a CSV in the data directory first, then its
    labels, model versions, scores and retrain runs are deleted. No other topic changes."""
    topic = _found(session, name, caller.reader_id)
    if confirm.strip().lower() != topic.name:
        raise validation_error(
            ("query", "confirm"),
            f"confirm={confirm!r} does not repeat the topic's name {topic.name!r}",
        )
    try:
        check_deletable(topic)
    except TopicError as err:
        raise HTTPException(409, str(err)) from None
    owner = f"{caller.name}-" if caller.name else ""
    export = labels_export_path(settings.data_dir, owner + topic.name)
    try:
        # Under the job's one lock: never while a retrain, an ingestion or a re-scoring runs
        # (a retrain finishing after the deletion would register a model for no topic).
        with services.job.held(TOPIC_DELETION, wait=PROBE_GRACE_SECONDS):
            export_labels_csv(session, export, topic_id=topic.id)
            deleted = delete_topic(session, topic.name, caller.reader_id)
            session.commit()
    except JobBusy as busy:
        raise HTTPException(409, f"{busy.plain()}; delete the topic when it is done") from None
    services.holders.forget(topic.id)
    removed = remove_model_directories(
        deleted.model_paths, settings.resolved_model_dir, remove_stored
    )
    return TopicDeleted(
        name=deleted.name,
        labels=deleted.labels,
        model_versions=deleted.model_versions,
        model_directories_removed=removed,
        retrain_runs=deleted.retrain_runs,
        labels_export=str(export),
    )
