"""Labels from what a new reader already has: arXiv ids and URLs, BibTeX, CSL-JSON (Zotero,
Mendeley), RIS and labelled CSVs (``formats``), the papers fetched from arXiv and stored with
their labels in one transaction (``service``).

Imports ``app.core``, ``app.store``, ``app.jobs`` (the arXiv client and ingestion) and
``training.inference.layout``. Only names here, so that the command line can offer them without
loading the rest.
"""

# The import formats, as ``--format`` and ``POST /labels/import?format=`` name them.
FORMATS = ("csv", "ids", "bibtex", "csl-json", "ris")
# The newest papers of an author that the author search offers to tick.
SEED_LIMIT = 100
