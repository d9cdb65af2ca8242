"""The store: the schema (``schema``), the queries several rooms share (``queries``), labels and
their CSV (``labels``), the followed categories (``categories``), full-text search and "more
like this" (``search``), and the rules of a stored score (``rules``: which score is current,
what "recommended" means, which days are listing days).

Imports ``app.core``, SQLAlchemy and ``training.inference.layout`` (the labelled-CSV columns):
never the model stack, the jobs, the API or the page, so that a query never loads a model.
"""
