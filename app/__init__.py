"""arxiv-reco: a daily arXiv reader that learns one researcher's taste.

The folders are the architecture. Lowest first; a room imports only the rooms before it in this
list (``tests/test_architecture.py`` holds each arrow):

- ``core``: settings, the database, access, secret files, the response cache, process tuning.
- ``store``: the schema, the shared queries, labels, categories, search, the rules of a score.
- ``serving``: model versions, the loaded model, scoring, a day's list, reasons.
- ``digest``: the daily email and its signed label links.
- ``jobs``: ingestion, the daily job and its child process, retrains, re-scoring, backups,
  onboarding.
- ``label_import``: labels from what a new reader already has (ids, BibTeX, CSL-JSON, RIS, CSV).
- ``runtime``: what one running service holds, and what is wrong with it.
- ``api``: the JSON API. ``web``: the page, the feed and the email links, above the API.
- ``demo``: the product offline on a bundled sample.
- The entry points: ``main`` (the FastAPI app) and ``cli`` (``arxiv-reco``).

Of ``training``, every room may use ``training.inference`` (the model directory, loading,
scoring, explaining, the labelled-data layout); only ``jobs`` and ``cli`` fit models.
"""
