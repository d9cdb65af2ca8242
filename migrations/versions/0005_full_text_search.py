"""full-text search over titles, abstracts and authors

Each backend's own full-text search (``app/store/search.py`` queries them):

* SQLite: ``papers_fts``, an external-content FTS5 table (Porter stemming over unicode61, accents
  folded) over the view ``papers_search_text`` (the papers' title, abstract and author names, the
  names read out of their JSON list so that "Müller" is a word, not ``M\\u00fcller``). Triggers
  on ``papers`` keep it in sync; existing papers are indexed here. FTS5's ``rebuild`` command
  cannot read that view: re-index with ``delete-all`` and the same ``INSERT ... SELECT`` as
  :func:`_sqlite_index_existing`.
* PostgreSQL: a stored generated ``tsvector`` column ``search_vector`` (the text search
  configuration ``arxiv_reco_english``: English stemming, accents folded with the unaccent
  extension where it can be created; title weighted A, authors B, abstract C) with a GIN
  index. A GIN index on the expression alone finds the matches as fast, but ranking them must
  recompute every match's vector: 13 s for a query matching 109,000 of 170,000 papers, against
  0.65 s with the stored column.

A batch migration that recreates ``papers`` on SQLite (``batch_alter_table`` with a change
SQLite cannot ALTER) stops with "error in view papers_search_text: no such table", and would
drop the triggers with the old table: drop the FTS objects first (:func:`downgrade`'s SQLite
half) and create and fill them again after.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

logger = logging.getLogger("migrations")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A paper's author names as text, from its JSON list (json_each decodes \u escapes).
_SQLITE_AUTHORS = "(SELECT group_concat(value, ', ') FROM json_each({row}.authors))"
_SQLITE_FTS_COLUMNS = "rowid, title, abstract, authors"


def _sqlite_values(row: str) -> str:
    return f"{row}.rowid, {row}.title, {row}.abstract, {_SQLITE_AUTHORS.format(row=row)}"


def _sqlite_upgrade() -> None:
    op.execute(
        "CREATE VIEW papers_search_text AS SELECT papers.rowid AS paper_rowid, title, abstract, "
        f"{_SQLITE_AUTHORS.format(row='papers')} AS authors FROM papers"
    )
    op.execute(
        "CREATE VIRTUAL TABLE papers_fts USING fts5(title, abstract, authors, "
        "content='papers_search_text', content_rowid='paper_rowid', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    # Document frequencies of the indexed terms, for "more like this".
    op.execute("CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, 'row')")
    remove_old = (
        f"INSERT INTO papers_fts(papers_fts, {_SQLITE_FTS_COLUMNS}) "
        f"VALUES ('delete', {_sqlite_values('old')});"
    )
    add_new = f"INSERT INTO papers_fts({_SQLITE_FTS_COLUMNS}) VALUES ({_sqlite_values('new')});"
    op.execute(f"CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN {add_new} END")
    op.execute(f"CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN {remove_old} END")
    op.execute(
        "CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, authors ON papers "
        f"BEGIN {remove_old} {add_new} END"
    )
    _sqlite_index_existing()


def _sqlite_index_existing() -> None:
    op.execute(
        f"INSERT INTO papers_fts({_SQLITE_FTS_COLUMNS}) "
        "SELECT paper_rowid, title, abstract, authors FROM papers_search_text"
    )


def _postgresql_upgrade() -> None:
    # Immutable, so that a generated column may call it; a list that is not one reads as none.
    op.execute(
        "CREATE FUNCTION arxiv_reco_authors_text(authors json) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
        "SELECT coalesce(string_agg(value, ', '), '') FROM json_array_elements_text("
        "CASE WHEN json_typeof(authors) = 'array' THEN authors ELSE '[]'::json END) $$"
    )
    # English stemming; accents folded too where the unaccent extension can be had.
    op.execute("CREATE TEXT SEARCH CONFIGURATION arxiv_reco_english (COPY = english)")
    if _unaccent_installed():
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION arxiv_reco_english "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem"
        )
    config = "'arxiv_reco_english'::regconfig"
    op.execute(
        "ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        f"setweight(to_tsvector({config}, coalesce(title, '')), 'A') || "
        f"setweight(to_tsvector({config}, arxiv_reco_authors_text(authors)), 'B') || "
        f"setweight(to_tsvector({config}, coalesce(abstract, '')), 'C')) STORED"
    )
    op.execute("CREATE INDEX ix_papers_search_vector ON papers USING gin (search_vector)")
    # "More like this" reads lexeme frequencies from the column's statistics.
    op.execute("ANALYZE papers")


def _unaccent_installed() -> bool:
    """unaccent ships with PostgreSQL's contrib and is a trusted extension (PostgreSQL 13+: the
    database's owner may create it); without it, "Muller" does not find "Müller"."""
    connection = op.get_bind()
    if connection.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'").first():
        return True
    available = connection.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'"
    ).first()
    if not available:
        logger.warning("no unaccent extension: searches on PostgreSQL will not fold accents")
        return False
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION unaccent")
    except sa.exc.DBAPIError as error:
        logger.warning(
            "could not create the unaccent extension (%s): searches on PostgreSQL will not "
            "fold accents; a superuser's `CREATE EXTENSION unaccent` and a downgrade and "
            "upgrade of revision 0005 add it",
            error.orig,
        )
        return False
    return True


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgresql_upgrade()
    # Other backends get no index; app.store.search says so when asked to search.


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("papers_fts_insert", "papers_fts_delete", "papers_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS papers_fts_vocab")
        op.execute("DROP TABLE IF EXISTS papers_fts")
        op.execute("DROP VIEW IF EXISTS papers_search_text")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_papers_search_vector")
        op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_vector")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS arxiv_reco_english")
        op.execute("DROP FUNCTION IF EXISTS arxiv_reco_authors_text(json)")
        # The unaccent extension stays: other parts of the database may use it.
