"""Retraining that cannot make things worse by accident, and the nightly loop that runs it.

A new model is trained on every stored label (its configuration and threshold chosen on the date
split, then refit on every label). The gate compares it with the active model on rows *neither was
fit on*: the newest split's labels that the active model never saw. With too few of those (the
usual case for a daily reader, who adds a handful of labels a day), a refit of the same method on
more labels replaces the active one; a different method must win on the full newest split. The
old model stays registered, so ``arxiv-reco models rollback`` brings it back. Each retrain is
recorded (``retrain_runs``) with its gate's numbers and reason, for ``/status`` and the page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import session_scope
from app.core.priority import lower_thread_priority
from app.serving.registry import activate_model, active_model, register_trained
from app.serving.store import local_path
from app.store.labels import load_labels
from app.store.schema import (
    DEFAULT_TOPIC,
    DEFAULT_TOPIC_ID,
    FIRST_READER_ID,
    Label,
    ModelVersion,
    Paper,
    RetrainRun,
    Topic,
    utcnow,
)
from training.inference.artifact import ROWS_FILE, TRAIN_CONFIG_FILE, ArtifactError, ModelMeta
from training.inference.layout import AUTHOR_JOINER, DataError, data_hash, join_categories
from training.regime import EARLY, Readiness, readiness

logger = logging.getLogger(__name__)


@dataclass
class RetrainOutcome:
    version_id: int
    name: str
    method: str
    labels: int
    # Average precision of the new (split) model and of the active model on the gate's rows.
    new_average_precision: float | None
    active_version_id: int | None
    active_average_precision: float | None
    activated: bool
    reason: str
    seconds: float
    gate: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_paper_ids(model_dir: str | Path) -> set[str] | None:
    """The labelled papers a served model was fit on, from its rows file; None when the model
    predates the file (which rows it saw is then unknown)."""
    path = Path(model_dir) / ROWS_FILE
    try:
        meta = ModelMeta.load(Path(model_dir))
        rows = pd.read_csv(path, dtype={"paper_id": str})
    except (OSError, ValueError):
        return None
    if (meta.info.get("served_model") or {}).get("fit_on") == "all labels":
        return set(rows["paper_id"])
    return set(rows.loc[rows["split"] == "train", "paper_id"])


def _average_precision(labels: Any, scores: Any) -> float | None:
    labels = list(labels)
    if not labels or len(set(labels)) < 2:
        return None
    return float(average_precision_score(labels, scores))


# A refit of the active recipe on more labels is broken, not just unlucky, when its test AP falls
# below this share of the active model's own test AP (each measured on its own newest labels).
COLLAPSE_SHARE = 0.5


def saved_recipe(model_dir: str | Path) -> dict[str, Any] | None:
    """The recipe a model directory was trained by, None when it records none."""
    from training.config import recipe

    try:
        raw = json.loads((Path(model_dir) / TRAIN_CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return recipe(raw) if isinstance(raw, dict) else None


def _gate(
    *,
    frame: pd.DataFrame,
    candidate_dir: Path,
    candidate_method: str,
    active_dir: str,
    active_method: str,
    settings: Settings,
    tolerance: float,
    labels_hash: str | None = None,
) -> tuple[bool, str, dict[str, Any]]:
    """Like with like. The same recipe refit on more labels replaces the active model unless it
    is broken; a different recipe must beat the active one's recipe fit on the same labels."""
    candidate_recipe = saved_recipe(candidate_dir)
    active_recipe = saved_recipe(active_dir)
    if active_recipe is None or candidate_recipe is None:
        activate, reason, gate = _unseen_rows_gate(
            frame=frame,
            candidate_dir=candidate_dir,
            candidate_method=candidate_method,
            active_dir=active_dir,
            active_method=active_method,
            settings=settings,
            tolerance=tolerance,
        )
        gate["kind"] = "unseen rows"
        return activate, reason, gate
    if candidate_recipe == active_recipe:
        return _same_recipe_gate(frame, candidate_dir, active_dir, settings)
    return _head_to_head_gate(
        frame, candidate_dir, active_recipe, settings, tolerance, labels_hash=labels_hash
    )


def _test_ap(model_dir: str | Path) -> float | None:
    try:
        value = ModelMeta.load(Path(model_dir)).metrics.get("test", {}).get("average_precision")
    except ArtifactError:
        return None
    return None if value is None else float(value)


def _same_recipe_gate(
    frame: pd.DataFrame, candidate_dir: Path, active_dir: str, settings: Settings
) -> tuple[bool, str, dict[str, Any]]:
    """The same recipe on more labels: it replaces the active model unless it cannot score, its
    scores are constant, or its test AP collapsed far below the active model's."""
    from training.inference.layout import paper_inputs
    from training.inference.predictor import load_predictor, score_papers

    rows = pd.read_csv(candidate_dir / ROWS_FILE, dtype={"paper_id": str})
    test_scores = rows.loc[rows["split"] == "test", "score"].to_numpy(dtype=float)
    new_ap, active_ap = _test_ap(candidate_dir), _test_ap(active_dir)
    gate: dict[str, Any] = {
        "kind": "same recipe",
        "on": "each model's own test split (its newest labels)",
        "new_average_precision": new_ap,
        "active_average_precision": active_ap,
        "collapse_share": COLLAPSE_SHARE,
    }
    try:
        predictor = load_predictor(candidate_dir, device=settings.device)
        served = score_papers(predictor, paper_inputs(frame.tail(32)))
    except Exception as err:  # any failure to score is what this check is for
        gate["broken"] = f"{type(err).__name__}: {err}"
        return False, f"kept the active model: the refit cannot score ({err})", gate
    if not np.isfinite(served).all() or not np.isfinite(test_scores).all():
        gate["broken"] = "scores that are not numbers"
        return False, "kept the active model: the refit gives scores that are not numbers", gate
    if len(test_scores) > 1 and float(np.ptp(test_scores)) == 0.0:
        gate["broken"] = "constant scores"
        return False, "kept the active model: the refit gives every paper the same score", gate
    if new_ap is not None and active_ap is not None and new_ap < COLLAPSE_SHARE * active_ap:
        gate["broken"] = "average precision collapsed"
        return (
            False,
            f"kept the active model: the refit's test AP {new_ap:.4f} collapsed below "
            f"{COLLAPSE_SHARE:.0%} of the active model's {active_ap:.4f}",
            gate,
        )
    return (
        True,
        f"the same recipe refit on {len(frame)} labels replaces the active model (test AP "
        + (f"{new_ap:.4f}" if new_ap is not None else "n/a")
        + (f", the active model's {active_ap:.4f}" if active_ap is not None else "")
        + ")",
        gate,
    )


def _head_to_head_gate(
    frame: pd.DataFrame,
    candidate_dir: Path,
    active_recipe: dict[str, Any],
    settings: Settings,
    tolerance: float,
    *,
    labels_hash: str | None = None,
) -> tuple[bool, str, dict[str, Any]]:
    """A different recipe: the active model's recipe is fit on the same labels and the same
    split, and the two split models are compared on the same test rows."""
    from training.config import ConfigError, TrainConfig
    from training.train import train

    candidate_config = json.loads((candidate_dir / TRAIN_CONFIG_FILE).read_text("utf-8"))
    gate: dict[str, Any] = {"kind": "head to head", "on": "the same test split"}
    with tempfile.TemporaryDirectory(prefix=".gate-", dir=settings.resolved_model_dir) as tmp:
        try:
            rival_config = TrainConfig(
                **{
                    **active_recipe,
                    "val_fraction": candidate_config["val_fraction"],
                    "test_fraction": candidate_config["test_fraction"],
                    "output": str(Path(tmp) / "rival"),
                    "device": settings.device,
                    "progress": False,
                }
            )
        except (ConfigError, TypeError) as err:
            gate["rival_error"] = str(err)
            return (
                True,
                f"the active model's recipe cannot be refit ({err}); the new one wins",
                gate,
            )
        rival = train(
            rival_config,
            frame=frame,
            source="the service's labels (gate)",
            labels_hash=labels_hash,
        )
        rival_rows = pd.read_csv(rival.path / ROWS_FILE, dtype={"paper_id": str})
    rows = pd.read_csv(candidate_dir / ROWS_FILE, dtype={"paper_id": str})
    test = rows[rows["split"] == "test"].merge(
        rival_rows[rival_rows["split"] == "test"][["paper_id", "score"]],
        on="paper_id",
        suffixes=("", "_rival"),
    )
    labels = test.merge(frame[["paper_id", "interest"]], on="paper_id")["interest"]
    new_ap = _average_precision(labels, test["score"])
    rival_ap = _average_precision(labels, test["score_rival"])
    gate.update(
        rows=len(test),
        positives=int(labels.sum()),
        new_average_precision=new_ap,
        active_average_precision=rival_ap,
        tolerance=tolerance,
    )
    if new_ap is None or rival_ap is None:
        return True, "the test split holds one class only; the new recipe replaces the old", gate
    if new_ap >= rival_ap - tolerance:
        return (
            True,
            f"the new recipe's test AP {new_ap:.4f} is not worse than the active recipe's "
            f"{rival_ap:.4f}, both fit on the same {len(frame)} labels",
            gate,
        )
    return (
        False,
        f"kept the active model: the new recipe's test AP {new_ap:.4f} is worse than the active "
        f"recipe's {rival_ap:.4f}, both fit on the same {len(frame)} labels (tolerance "
        f"{tolerance})",
        gate,
    )


def _unseen_rows_gate(
    *,
    frame: pd.DataFrame,
    candidate_dir: Path,
    candidate_method: str,
    active_dir: str,
    active_method: str,
    settings: Settings,
    tolerance: float,
) -> tuple[bool, str, dict[str, Any]]:
    """For an active model whose recipe is not recorded (trained elsewhere, or before recipes
    were saved): compare the candidate's split model with it on rows neither was fit on."""
    from training.inference.layout import paper_inputs
    from training.inference.predictor import load_predictor, score_papers

    rows = pd.read_csv(candidate_dir / ROWS_FILE, dtype={"paper_id": str})
    test_rows = rows[rows["split"] == "test"]
    candidate_scores = dict(zip(test_rows["paper_id"], test_rows["score"], strict=True))
    test = frame[frame["paper_id"].isin(candidate_scores)]
    seen = fit_paper_ids(active_dir)
    unseen = test if seen is None else test[~test["paper_id"].isin(seen)]
    positives = int(unseen["interest"].sum())
    negatives = len(unseen) - positives
    gate: dict[str, Any] = {
        "test_rows": len(test),
        "unseen_rows": len(unseen),
        "unseen_positives": positives,
        "min_positives": settings.retrain_gate_min_positives,
        "tolerance": tolerance,
    }
    if positives >= settings.retrain_gate_min_positives and negatives > 0:
        rows_to_compare = unseen
        gate["on"] = (
            "labels the active model was not fit on"
            if seen is not None
            else "the newest split (which rows the active model saw is not recorded)"
        )
    elif seen is not None and active_method == candidate_method:
        gate["on"] = None
        return (
            True,
            f"only {positives} interesting labels are new to the active model (the gate needs "
            f"{settings.retrain_gate_min_positives} to compare); the same method refit on "
            f"{len(frame)} labels replaces it",
            gate,
        )
    elif seen is not None:
        # A change of method, with too few labels the active model never saw: scoring it on
        # rows it was fit on would always favour it, so there is nothing fair to compare.
        gate["on"] = None
        return (
            False,
            f"kept the active {active_method} model: only {positives} interesting labels are new "
            f"to it (the gate needs {settings.retrain_gate_min_positives} to compare a "
            f"{candidate_method} model with it); `arxiv-reco retrain --force` switches anyway",
            gate,
        )
    else:
        rows_to_compare = test
        gate["on"] = "the newest split (which rows the active model saw is not recorded)"
    try:
        predictor = load_predictor(active_dir, device=settings.device)
    except ArtifactError as err:
        gate["active_error"] = str(err)
        return True, f"the active model cannot be loaded ({err}); the new one replaces it", gate
    active_scores = score_papers(predictor, paper_inputs(rows_to_compare))
    labels = rows_to_compare["interest"].tolist()
    new_ap = _average_precision(labels, [candidate_scores[p] for p in rows_to_compare["paper_id"]])
    active_ap = _average_precision(labels, active_scores)
    gate.update(
        rows=len(rows_to_compare), new_average_precision=new_ap, active_average_precision=active_ap
    )
    if new_ap is None or active_ap is None:
        return True, "the gate's rows hold one class only; the new model replaces the old", gate
    if new_ap >= active_ap - tolerance:
        return (
            True,
            (
                f"AP {new_ap:.4f} on {gate['on']} is not worse than the active model's "
                f"{active_ap:.4f}"
            ),
            gate,
        )
    return (
        False,
        (
            f"kept the active model: AP {new_ap:.4f} on {gate['on']} is worse than its "
            f"{active_ap:.4f} (tolerance {tolerance})"
        ),
        gate,
    )


def retrain(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    method: str | None = None,
    tolerance: float | None = None,
    force: bool = False,
    trigger: str = "cli",
    frame: pd.DataFrame | None = None,
    labels_hash: str | None = None,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> RetrainOutcome:
    """Train on ``frame`` (default: the stored labels), gate, register, maybe activate; the run
    is recorded whatever happens. ``labels_hash`` is ``data_hash(frame)`` where the caller has
    it (the nightly check has), so one retrain hashes its labels once."""
    started = time.perf_counter()
    method = method or settings.retrain_method
    tolerance = settings.retrain_tolerance if tolerance is None else tolerance
    if frame is None:
        with sessions() as session:
            frame = reader_labels(session, topic_id=topic_id)
    labels_hash = labels_hash or data_hash(frame)
    with session_scope(sessions) as session:
        run = RetrainRun(
            topic_id=topic_id,
            trigger=trigger,
            method=method,
            labels=len(frame),
            data_hash=labels_hash,
            status="running",
        )
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        outcome = _retrain(
            sessions,
            settings,
            frame,
            labels_hash,
            topic_id=topic_id,
            method=method,
            tolerance=tolerance,
            force=force,
            started=started,
        )
    except BaseException as err:
        with session_scope(sessions) as session:
            failed = session.get_one(RetrainRun, run_id)
            failed.status, failed.finished_at = "failed", utcnow()
            failed.reason = f"{type(err).__name__}: {err}"
            failed.seconds = time.perf_counter() - started
        raise
    with session_scope(sessions) as session:
        done = session.get_one(RetrainRun, run_id)
        done.status, done.finished_at, done.seconds = "success", utcnow(), outcome.seconds
        done.model_version_id, done.activated = outcome.version_id, outcome.activated
        done.method = outcome.method
        done.reason, done.gate = outcome.reason, outcome.gate
    return outcome


def _retrain(
    sessions: sessionmaker[Session],
    settings: Settings,
    frame: pd.DataFrame,
    labels_hash: str,
    *,
    topic_id: int,
    method: str,
    tolerance: float,
    force: bool,
    started: float,
) -> RetrainOutcome:
    # Training is loaded only when a retrain runs: the service starts without it.
    from training.config import TrainConfig
    from training.early import train_early
    from training.train import train

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = f"{method}-{stamp}"
    # A tfidf retrain of a few hundred labels takes under a second: never reuse a folder, nor
    # the path of a registered version whose folder is gone (it would take over that version).
    with sessions() as session:
        registered = set(session.scalars(select(ModelVersion.path)))
    suffix = 1
    store = (settings.model_store or "").rstrip("/")
    while (
        (target := settings.resolved_model_dir / name).exists()
        or str(target.resolve()) in registered
        or f"{store}/{name}" in registered
    ):
        suffix += 1
        name = f"{method}-{stamp}-{suffix}"
    config = TrainConfig(
        output=str(settings.resolved_model_dir / name),
        method=method,
        daily_picks=settings.early_daily_picks,
        weak_negatives=settings.early_weak_negatives,
        weak_negative_weight=settings.early_weak_negative_weight,
        pseudo_positives=settings.early_pseudo_positives,
        base_model=settings.retrain_base_model,
        device=settings.device,
        threshold_strategy=settings.retrain_threshold_strategy,
        threshold_target=settings.retrain_threshold_target,
        recency_half_life_days=settings.retrain_recency_half_life_days,
        tfidf_char_ngrams=settings.retrain_tfidf_char_ngrams,
        second_stage=settings.retrain_second_stage and method == "tfidf",
        progress=False,
    )
    if settings.retrain_c:  # a fixed C, as the nightly replay chose (bench/recipes.py)
        config = replace(config, c_grid=[settings.retrain_c])
    ready = readiness(frame, val_fraction=config.val_fraction, test_fraction=config.test_fraction)
    early = ready.regime == EARLY
    if early:
        # An early model is tfidf whatever the configured method: seconds to fit, and no
        # encoder learns more than TF-IDF from a handful of papers.
        config = replace(config, method="tfidf", second_stage=False)
        with sessions() as session:
            pool = unlabelled_papers(session, limit=2 * settings.early_weak_negatives)
        result: Any = train_early(
            config,
            frame,
            pool,
            source="the service's labels and its unlabelled papers",
            name=name,
            readiness_info=ready,
            labels_hash=labels_hash,
        )
    else:
        result = train(
            config,
            frame=frame,
            source="the service's labels",
            name=name,
            labels_hash=labels_hash,
        )
    version_id = register_trained(
        sessions,
        result.path,
        result.meta,
        name=name,
        activate=False,
        topic_id=topic_id,
        store=settings.model_store,
    )

    with sessions() as session:
        active = active_model(session, topic_id=topic_id)
        active_id, active_path, active_method = (
            (active.id, active.path, active.method) if active else (None, None, None)
        )
    active_regime = _regime_of(active_path) if active_path is not None else None
    gate: dict[str, Any] = {}
    if force:
        activate, reason = True, "activated by request (--force)"
    elif early:
        # Nothing is held out to compare an early model with another on; it is trained only
        # when the labels changed, and the newest labels win.
        activate = True
        reason = ready.message + (
            "; no model was active" if active_path is None else "; it replaces the active model"
        )
    elif active_path is None:
        activate, reason = True, "no model was active"
    elif active_regime == EARLY:
        # Its threshold and probabilities were a prior; these are measured on held-out labels.
        activate = True
        reason = "the first measured model replaces the early one"
    else:
        activate, reason, gate = _gate(
            frame=frame,
            candidate_dir=result.path,
            candidate_method=method,
            active_dir=active_path,
            active_method=str(active_method),
            settings=settings,
            tolerance=tolerance,
            labels_hash=labels_hash,
        )
    if activate:
        with session_scope(sessions) as session:
            activate_model(session, version_id=version_id)
    else:
        reason += f"; `arxiv-reco models activate {version_id}` would serve it anyway"
    logger.info("retrained %s on %d labels: %s", name, len(frame), reason)
    return RetrainOutcome(
        version_id=version_id,
        name=name,
        method=config.method,
        labels=len(frame),
        new_average_precision=gate.get("new_average_precision"),
        active_version_id=active_id,
        active_average_precision=gate.get("active_average_precision"),
        activated=activate,
        reason=reason,
        seconds=time.perf_counter() - started,
        gate=gate,
    )


def _regime_of(model_dir: str) -> str | None:
    try:
        return str(ModelMeta.load(local_path(model_dir)).info.get("regime", "measured"))
    except (ArtifactError, OSError):
        return None


def reader_labels(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> pd.DataFrame:
    """The topic's labels a retrain learns from: one interesting paper is enough (the early
    model); a refusal says in plain words what to do."""
    try:
        frame = load_labels(session, require_both_classes=False, topic_id=topic_id)
    except DataError as err:
        if "no labelled rows" in str(err):
            raise DataError(
                "no labels yet: mark a paper ✓ interesting (or import a few arXiv ids you like) "
                "and retrain"
            ) from err
        raise
    if not int(frame["interest"].sum()):
        raise DataError(
            "no paper is marked interesting yet: mark at least one paper ✓ interesting (or "
            "import a few arXiv ids you like) and retrain"
        )
    return frame


def label_progress(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> Readiness:
    """Where the topic's labels stand: early or measured, and what more a measured model
    needs."""
    from training.config import TrainConfig

    defaults = TrainConfig(output="-")
    # Only what the date split reads: /status asks on every poll, and reading every label's
    # text there took 0.1 s of the web process per call at 4,000 labels (bench/load.py).
    # On SQLite the day as its stored ISO text, which sorts as the date does and skips the
    # per-row date parsing; elsewhere the date itself (a cast would follow PostgreSQL's DateStyle).
    sqlite = session.get_bind().dialect.name == "sqlite"
    day = cast(Paper.submitted_on, String) if sqlite else Paper.submitted_on
    rows = sorted(
        session.execute(
            select(day, Paper.id, Label.interest)
            .join(Label, Label.paper_id == Paper.id)
            .where(Label.topic_id == topic_id)
        ).all(),
        key=lambda row: (row[0], row[1]),  # as stored_labels orders them
    )
    frame = pd.DataFrame(
        {
            "paper_id": pd.Series([row[1] for row in rows], dtype=object),
            "submission_date": pd.to_datetime([str(row[0]) for row in rows], utc=True),
            "interest": pd.Series([int(row[2]) for row in rows], dtype=int),
        }
    )
    return readiness(
        frame, val_fraction=defaults.val_fraction, test_fraction=defaults.test_fraction
    )


def unlabelled_papers(session: Session, *, limit: int) -> pd.DataFrame:
    """The newest ``limit`` stored papers nobody labelled, in the layout training reads: an
    early model's weak negatives. Nobody means in no topic: another topic's ✓ paper is no
    negative of this one, nor is its ✕ (the reader did not say it here)."""
    rows = session.execute(
        select(
            Paper.id,
            Paper.title,
            Paper.abstract,
            Paper.categories,
            Paper.submitted_on,
            Paper.authors,
            Paper.comment,
        )
        .outerjoin(Label, Label.paper_id == Paper.id)
        .where(Label.paper_id.is_(None))
        .order_by(Paper.submitted_on.desc(), Paper.id.desc())
        .limit(limit)
    ).all()
    frame = pd.DataFrame(
        {
            "paper_id": [r.id for r in rows],
            "title": [r.title for r in rows],
            "abstract": [r.abstract for r in rows],
            "categories": [join_categories(r.categories or []) for r in rows],
            "submission_date": pd.to_datetime([r.submitted_on for r in rows], utc=True),
            "authors": [AUTHOR_JOINER.join(r.authors or []) for r in rows],
            "comment": [r.comment or "" for r in rows],
        }
    )
    # Oldest first, as the labels: the weak-negative sample must not depend on SQL collations.
    return frame.sort_values(["submission_date", "paper_id"], kind="stable").reset_index(drop=True)


class LabelsChange(NamedTuple):
    frame: pd.DataFrame | None  # None: no retrain
    labels_hash: str | None  # the frame's data_hash, computed once for the whole retrain
    why: str


def labels_changed(
    sessions: sessionmaker[Session], method: str, *, topic_id: int = DEFAULT_TOPIC_ID
) -> LabelsChange:
    """The stored labels when a nightly retrain should learn from them: they differ from those
    the active model and the last retrain of this method were trained on. So a model the reader
    activated or rolled back to stays until new labels come, and a candidate the gate refused
    is not trained again on the same labels every night."""
    try:
        with sessions() as session:
            frame = reader_labels(session, topic_id=topic_id)
            active = active_model(session, topic_id=topic_id)
            active_path = active.path if active is not None else None
            last = session.scalar(
                select(RetrainRun)
                .where(
                    RetrainRun.topic_id == topic_id,
                    RetrainRun.status == "success",
                    RetrainRun.method == method,
                )
                .order_by(RetrainRun.id.desc())
                .limit(1)
            )
            last_hash = last.data_hash if last is not None else None
    except DataError as err:
        return LabelsChange(None, None, f"no retrain: {err}")
    current = data_hash(frame)
    if last_hash == current:
        return LabelsChange(None, None, "no retrain: the last retrain already saw these labels")
    if active_path is not None:
        try:
            trained_on = ModelMeta.load(Path(active_path)).info.get("data_hash")
        except ValueError:
            trained_on = None
        if trained_on == current:
            why = "no retrain: the labels have not changed since the active model"
            return LabelsChange(None, None, why)
    return LabelsChange(
        frame, current, "the labels changed since the active model and the last retrain"
    )


def nightly_retrain(
    sessions: sessionmaker[Session], settings: Settings, *, topic_id: int = DEFAULT_TOPIC_ID
) -> RetrainOutcome | None:
    """The daily job's retrain of a topic: only when its labels changed; never fatal to the
    job (a failure is recorded on its retrain run)."""
    if not settings.nightly_retrain:
        return None
    change = labels_changed(sessions, settings.retrain_method, topic_id=topic_id)
    if change.frame is None:
        logger.info(change.why)
        return None
    logger.info("nightly retrain: %s", change.why)
    try:
        return retrain(
            sessions,
            settings,
            trigger="nightly",
            frame=change.frame,
            labels_hash=change.labels_hash,
            topic_id=topic_id,
        )
    except Exception:  # recorded on its retrain run; ingestion has already succeeded
        logger.exception("the nightly retrain failed")
        return None


def last_retrain(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> RetrainRun | None:
    return session.scalar(
        select(RetrainRun)
        .where(RetrainRun.topic_id == topic_id)
        .order_by(RetrainRun.id.desc())
        .limit(1)
    )


# GET /retrain?since=: a POST's retrain not recorded yet (its process starting) is "starting"
# for this long; the two clocks are one service's, give or take this.
STARTING_GRACE = dt.timedelta(minutes=1)
CLOCK_SLACK = dt.timedelta(seconds=1)


class RetrainRunner:
    """One retrain at a time in the background, for the page's button."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions, self.settings = sessions, settings
        self._lock = threading.Lock()
        self.topic_id = DEFAULT_TOPIC_ID
        self.reader_id = FIRST_READER_ID  # whose topic: only they see its state
        self.state: dict[str, Any] = {
            "state": "idle",
            "message": None,
            "activated": False,
            "topic": DEFAULT_TOPIC,
        }

    def start(
        self,
        *,
        topic_id: int = DEFAULT_TOPIC_ID,
        topic: str = DEFAULT_TOPIC,
        reader_id: int = FIRST_READER_ID,
    ) -> bool:
        """Retrain the topic's model in a thread; False when a retrain runs already."""
        with self._lock:
            if self.state["state"] == "running":
                return False
            self.topic_id, self.reader_id = topic_id, reader_id
            self.state = {
                "state": "running",
                "message": "retraining",
                "activated": False,
                "topic": topic,
                # The service's clock: GET /retrain?since= names the retrain it waits for.
                "started_at": utcnow().isoformat(),
            }
        threading.Thread(target=self._run, name="retrain", daemon=True).start()
        return True

    def state_for(self, reader_id: int) -> dict[str, Any]:
        """The state as the reader may see it: another reader's retrain says only that one
        runs, not what it is nor how it ended."""
        if reader_id == self.reader_id:
            return self.state
        running = self.state["state"] == "running"
        return {
            "state": "running" if running else "idle",
            "message": "another reader's retrain is running" if running else None,
            "activated": False,
            "topic": None,
        }

    def state_across_processes(
        self, session: Session, reader_id: int, *, since: dt.datetime | None = None
    ) -> dict[str, Any]:
        """The reader's last page retrain, wherever it ran: this process's while it runs here,
        else the database's record (the web processes of ``serve --workers`` share no memory:
        the page's polls land on any of them). With ``since`` (the start its POST answered), a
        retrain not recorded yet is still starting: ``running`` for a minute."""
        own = self.state_for(reader_id)
        if own["state"] == "running" and reader_id == self.reader_id:
            return own
        run = session.scalar(
            select(RetrainRun)
            .join(Topic, Topic.id == RetrainRun.topic_id)
            .where(Topic.reader_id == reader_id, RetrainRun.trigger == "page")
            .order_by(RetrainRun.id.desc())
            .limit(1)
        )
        if since is not None and (run is None or run.started_at < since - CLOCK_SLACK):
            if utcnow() - since < STARTING_GRACE:
                return {"state": "running", "message": "starting the retrain", "activated": False}
            return own
        if run is None:
            return own
        topic = session.get(Topic, run.topic_id)
        state = {"running": "running", "success": "done"}.get(run.status, "failed")
        version = session.get(ModelVersion, run.model_version_id) if run.model_version_id else None
        message = run.reason or run.status
        if state == "done" and version is not None:
            message = f"{version.name}: {run.reason}"
        return {
            "state": state,
            "message": "retraining" if state == "running" else message,
            "activated": run.activated,
            "topic": topic.name if topic is not None else None,
            "started_at": run.started_at.isoformat(),
            "outcome": {"version_id": run.model_version_id} if state == "done" else None,
        }

    def _fit(self) -> RetrainOutcome:
        lower_thread_priority(self.settings.background_nice)
        return retrain(self.sessions, self.settings, trigger="page", topic_id=self.topic_id)

    def _run(self) -> None:
        try:
            outcome = self._fit()
        except DataError as err:  # the labels cannot train a model yet: no traceback to read
            logger.warning("retrain refused: %s", err)
            self.state = {**self.state, "state": "failed", "message": f"{err}", "activated": False}
            return
        except Exception as err:  # shown to the user on the page and in the log
            logger.exception("retrain failed")
            self.state = {**self.state, "state": "failed", "message": f"{err}", "activated": False}
            return
        self.state = {
            **self.state,
            "state": "done",
            "message": f"{outcome.name}: {outcome.reason}",
            "activated": outcome.activated,
            "outcome": outcome.as_dict(),
        }
