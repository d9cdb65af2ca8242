"""The store: what every room reads and writes the data through.

It owns the rules that make a stored score count: which score of a paper is current, what
"recommended" means, and which days are listing days. It imports the schema (``app.models``)
and SQLAlchemy only: never the model stack (``app.ml``, ``app.scoring``, ``training``), the
API, the page or the jobs, so that the shared queries (``app.crud``, ``app.search``) can use
these rules without loading a model (tests/test_architecture.py). The schema, the shared queries,
labels and search move in here next (issue 18).
"""
