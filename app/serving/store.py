"""The model store: where a trained model's directory lives so that every process can load it.

By default a model version's path is a directory on this machine (the data directory's
``models/``, or ``ARXIV_RECO_MODEL_DIR``, which may be a shared mount). With
``ARXIV_RECO_MODEL_STORE`` set to a URL that fsspec reaches (``s3://bucket/models``,
``gs://…``, ``file:///srv/shared/models``, ``sftp://…``, with that scheme's package installed),
a retrain writes the model locally, uploads it there, and registers the version by its URL; any
process on any host then loads it from a local copy, downloaded once into the model cache
(``ARXIV_RECO_MODEL_CACHE``, default the user's cache folder: ``~/.cache/arxiv-reco/models``
on Linux). A stored model never
changes (a retrain makes a new one), so the copy is never stale.

The upload puts the model card (``reco_model.json``) last, and the download lands in a
temporary folder renamed into place, so no process ever loads half a model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir

from training.inference.artifact import META_FILE

logger = logging.getLogger(__name__)

CACHE_ENV = "ARXIV_RECO_MODEL_CACHE"


class ModelStoreError(OSError):
    """The store cannot be reached, or holds no model at that URL; the message names it."""


def is_url(path: str | Path) -> bool:
    """A model version registered in a store (``scheme://…``), not a local directory."""
    return "://" in str(path)


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path(user_cache_dir("arxiv-reco")) / "models"


def local_path(path: str | Path) -> Path:
    """Where to read a model version's files on this machine: its directory, or for a URL the
    local copy, downloaded first if this machine has none yet."""
    if not is_url(path):
        return Path(path)
    url = str(path).rstrip("/")
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    copy = cache_dir() / f"{key}-{url.rsplit('/', 1)[-1]}"
    if (copy / META_FILE).is_file():
        return copy
    _download(url, copy)
    return copy


def _filesystem(url: str):  # type: ignore[no-untyped-def]
    import fsspec

    try:
        filesystem, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as err:
        raise ModelStoreError(f"the model store {url} cannot be used: {err}") from err
    return filesystem, root


def _download(url: str, copy: Path) -> None:
    filesystem, root = _filesystem(url)
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{copy.name}.", dir=copy.parent))
    try:
        if not filesystem.exists(f"{root}/{META_FILE}"):
            raise ModelStoreError(f"{url} holds no model ({META_FILE} is missing)")
        filesystem.get(f"{root}/", f"{partial}/", recursive=True)
        try:
            os.replace(partial, copy)
        except OSError:  # another process of this machine put its copy there first
            if not (copy / META_FILE).is_file():
                raise
        logger.info("copied the model %s into %s", url, copy)
    except ModelStoreError:
        raise
    except Exception as err:  # a store's own errors (network, permissions) vary by scheme
        raise ModelStoreError(f"the model {url} could not be copied here: {err}") from err
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def publish(directory: Path, store: str) -> str:
    """Upload a model directory into the store under its own name; its URL. The model card goes
    last: until it is there, the model is not one."""
    url = f"{store.rstrip('/')}/{directory.name}"
    filesystem, root = _filesystem(url)
    try:
        filesystem.makedirs(root, exist_ok=True)
        files = sorted(p for p in directory.rglob("*") if p.is_file())
        for file in sorted(files, key=lambda p: p.name == META_FILE):
            target = f"{root}/{file.relative_to(directory).as_posix()}"
            filesystem.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            filesystem.put_file(str(file), target)
    except Exception as err:
        raise ModelStoreError(f"the model could not be uploaded to {url}: {err}") from err
    logger.info("uploaded the model %s to %s", directory, url)
    return url


def remove(url: str) -> bool:
    """Delete a stored model (a deleted topic's); False when it could not be."""
    try:
        filesystem, root = _filesystem(url)
        filesystem.rm(root, recursive=True)
    except (ModelStoreError, OSError) as err:
        logger.warning("could not remove the stored model %s: %s", url, err)
        return False
    return True
