"""per-host fetch slots shared by every worker

Full-text fetches to one host are spaced out across all worker processes and
hosts, not per process: the next free start time per host lives here.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_slots",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_host_slots")),
    )


def downgrade() -> None:
    op.drop_table("host_slots")
