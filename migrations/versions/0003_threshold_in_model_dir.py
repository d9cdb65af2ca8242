"""a model's threshold lives in its directory only

``model_versions.threshold`` copied the threshold of the model directory's ``reco_model.json``
at registration; two copies of one number could disagree. The directory is the one source now.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("threshold")


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(
            sa.Column("threshold", sa.Float(), nullable=False, server_default=sa.text("0.5"))
        )
