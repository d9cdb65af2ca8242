"""Work that runs beside the readers: the arXiv client (``arxiv_source``) and the ingestion of a
day (``ingest``), the daily job and its one-at-a-time lock (``scheduler``, ``lock``), the child
process that keeps heavy work off the serving process (``child``), retrains and their gate
(``retrain``), re-scoring (``rescore``), backups (``backup``) and the onboarding's questions and
retrain (``onboarding``).

Imports ``app.core``, ``app.store``, ``app.serving``, ``app.digest`` and all of ``training``
(retrains fit models): never the API or the page.
"""
