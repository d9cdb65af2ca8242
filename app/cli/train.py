"""``arxiv-reco train``: the training library's options plus the service's part, storing.

Training itself (``training.train``) reads rows and writes a model directory; this command adds
where the rows come from (a CSV, or the service's stored labels with ``--from-db``) and records the
model in the service's database afterwards, unless told not to.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.core.config import Settings

if TYPE_CHECKING:
    from app.core.db import Database

PROG = "arxiv-reco train"


@dataclass
class ServiceOptions:
    from_db: bool = field(
        default=False,
        metadata={"help": "Train on the labels the service stores instead of a --data CSV."},
    )
    no_register: bool = field(
        default=False, metadata={"help": "Do not record the model in the service's database."}
    )
    activate: bool = field(
        default=False,
        metadata={"help": "Make the service serve this model once it is registered."},
    )
    database_url: str | None = field(
        default=None, metadata={"help": "SQLAlchemy URL; default: the service's settings."}
    )
    name: str | None = field(
        default=None,
        metadata={"help": "Name of the model version; default: the output folder name."},
    )
    topic: str | None = field(
        default=None,
        metadata={
            "help": "The topic whose labels train it (--from-db) and that it is registered in; "
            "default: the topic named default."
        },
    )


def train_command(argv: Sequence[str], settings: Settings) -> int:
    # The command line is read before the database layer and torch load: --help and a typo
    # answer at once.
    from training.cli import BAD_INPUT, expected_errors, parse_train_args, print_result
    from training.config import ConfigError

    try:
        config, options = parse_train_args(argv, PROG, extra_options=(ServiceOptions,))
        if config.data and options.from_db:
            raise ConfigError("give either --data CSV or --from-db, not both")
        if not config.data and not options.from_db:
            raise ConfigError("no training data: give --data labels.csv or --from-db")
        if options.activate and options.no_register:
            raise ConfigError("--activate needs registration; drop --no-register")
        if options.topic is not None and not options.from_db and options.no_register:
            raise ConfigError("--topic names where the labels come from or where it is registered")
        from app.core.db import Database
        from training.train import train

        database: Database | None = None
        topic_id, topic = None, None
        if options.from_db or not options.no_register:
            database = Database(options.database_url or settings.resolved_database_url)
            topic_id, topic = _topic(database, options.topic)
        frame, source = None, None
        if options.from_db:
            from app.store.labels import load_labels

            assert database is not None and topic_id is not None
            with database.sessions() as session:
                frame = load_labels(session, topic_id=topic_id)
                source = f"the service's labels in the topic {topic}"
        else:
            print(
                f"note: the labels in {config.data} train this model only; the service's own "
                f"labels are those given on its page or stored with "
                f"`arxiv-reco labels import {config.data}`",
                file=sys.stderr,
            )
        result = train(config, frame=frame, source=source, name=options.name)
    except SystemExit as exit_:  # argparse: --help, or a malformed option
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else BAD_INPUT
    except expected_errors() as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return BAD_INPUT
    print_result(result)
    if database is None:
        return 0
    with database:
        if not options.no_register:
            from app.serving.registry import register_trained

            assert topic_id is not None
            version_id = register_trained(
                database.sessions,
                result.path,
                result.meta,
                name=options.name,
                activate=options.activate,
                topic_id=topic_id,
                store=settings.model_store,
            )
            state = "active" if options.activate else "not active; activate it to serve it"
            print(f"registered as model version {version_id} of the topic {topic} ({state})")
    return 0


def _topic(database: Database, name: str | None) -> tuple[int, str]:
    """The id and name of ``--topic`` (default: the default topic); ConfigError naming an
    unknown one, before anything is trained."""
    from app.store.schema import DEFAULT_TOPIC
    from app.store.topics import TopicNotFound, find_topic
    from training.config import ConfigError

    with database.sessions() as session:
        try:
            topic = find_topic(session, name or DEFAULT_TOPIC)
        except TopicNotFound as err:
            raise ConfigError(f"--topic: {err}") from None
        return topic.id, topic.name
