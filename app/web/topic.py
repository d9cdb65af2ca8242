"""The topic a page shows: ``?topic=NAME`` on any page (the default topic without one), or
``?topic_id=N`` (the digest's day links, which a rename keeps good). An unknown topic shows the
default topic with a note, never an error page: a bookmark of a deleted topic still opens. The
page keeps the topic on its own links (``query``) and its scripts read it from ``<body
data-topic>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from app.api.deps import SessionDep
from app.store.schema import DEFAULT_TOPIC, Topic
from app.store.topics import MAX_NAME, TopicNotFound, find_topic, list_topics, reader_topic
from app.web.login import PageCallerDep


@dataclass(frozen=True)
class PageTopic:
    topic: Topic
    topics: list[Topic]  # in the reader's order
    error: str | None  # the note for an unknown name
    switch: list[tuple[Topic, str]]  # each topic and this page's URL in it
    reader: str | None = None  # the signed-in reader's name; None while no reader is made

    @property
    def query(self) -> str:
        """``&topic=NAME`` for a link of this page; empty for the default topic."""
        return "" if self.topic.is_default else f"&topic={self.topic.name}"

    @property
    def name(self) -> str:
        return self.topic.name


def page_topic(
    request: Request,
    session: SessionDep,
    caller: PageCallerDep,
    name: Annotated[str | None, Query(alias="topic")] = None,
    topic_id: Annotated[str | None, Query()] = None,
) -> PageTopic:
    """The signed-in reader's topic: ``?topic=NAME``, or ``?topic_id=N`` (the digest's links: a
    rename keeps them good). Another reader's topic is one this reader has not."""
    mine = caller.reader_id
    topic, error = find_topic(session, DEFAULT_TOPIC, mine), None
    if topic_id:
        found = (
            reader_topic(session, int(topic_id), mine)
            if topic_id.isdigit() and len(topic_id) < 16
            else None
        )
        if found is None:
            error = f"There is no topic {topic_id[:MAX_NAME]!r} any more; showing {DEFAULT_TOPIC}."
        else:
            topic = found
    elif name:
        try:
            if len(name) > MAX_NAME:
                raise TopicNotFound(name)
            topic = find_topic(session, name, mine)
        except TopicNotFound:
            error = f"There is no topic {name[:MAX_NAME]!r}; showing {DEFAULT_TOPIC}."
    topics = list_topics(session, mine)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("topic", "topic_id")]

    def url(other: Topic) -> str:
        params = kept + ([] if other.is_default else [("topic", other.name)])
        return request.url.path + (f"?{urlencode(params)}" if params else "")

    switch = [(other, url(other)) for other in topics]
    return PageTopic(topic, topics, error, switch, reader=caller.name)


PageTopicDep = Annotated[PageTopic, Depends(page_topic)]
