"""The daily digest by email: which day, what it says (``compose``), its signed label links
(``links``), sending it and recording the result (``service``, ``state``). Off unless
ARXIV_RECO_SMTP_HOST is set.

Imports ``app.core``, ``app.store`` and ``app.serving``: never the jobs (the daily job calls it),
the API or the page.
"""
