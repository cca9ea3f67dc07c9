"""stored MinHash signatures

Near-copy candidates were compared by shingling and hashing their text again
on every comparison. Each article's signature is now stored beside its band
hashes (``num_perm`` 32-bit values, 512 bytes by default); this migration
computes it for the articles stored before, with the dedup settings of the
environment it runs in, as the worker would.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsmill_schema.minhash import pack, signature, text_of
from newsmill_schema.settings import Settings

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Articles read and signed per round trip: bounded memory on a large store.
_BATCH = 1000

_articles = sa.table(
    "articles", sa.column("id", sa.Integer), sa.column("title", sa.Text), sa.column("body", sa.Text)
)
_signatures = sa.table(
    "dedup_signatures",
    sa.column("article_id", sa.Integer),
    sa.column("signature", sa.LargeBinary),
)


def upgrade() -> None:
    op.create_table(
        "dedup_signatures",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_dedup_signatures_article_id_articles"),
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_dedup_signatures")),
    )
    _sign_stored_articles(op.get_bind())


def _sign_stored_articles(connection: sa.Connection) -> None:
    settings = Settings()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(_articles.c.id, _articles.c.title, _articles.c.body)
            .where(_articles.c.id > after)
            .order_by(_articles.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.insert(_signatures),
            [
                {
                    "article_id": row.id,
                    "signature": pack(
                        signature(
                            text_of(row.title or "", row.body or ""),
                            settings.dedup_shingle_size,
                            settings.dedup_num_perm,
                        )
                    ),
                }
                for row in rows
            ],
        )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_table("dedup_signatures")
