"""Alembic migrations; run through ``app.core.db.migrate`` or ``arxiv-reco migrate``."""
