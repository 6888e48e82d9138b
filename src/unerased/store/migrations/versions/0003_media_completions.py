"""media_completions: a media file a later import brought for a stored version

Append-only: the media row of the earlier import is never updated; the completion is a
new row with its own ledger leaf (kind ``media_completion``, docs/receipts.md).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'media_completions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
                  nullable=False),
        sa.Column('media_pk', sa.BigInteger(), nullable=False),
        sa.Column('version_pk', sa.BigInteger(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('filename', sa.Text(), nullable=True),
        sa.Column('mime', sa.String(length=128), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.String(length=32), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_media_completions_media', 'media_completions', ['media_pk'])
    op.create_index('ix_media_completions_version', 'media_completions', ['version_pk'])


def downgrade() -> None:
    op.drop_index('ix_media_completions_version', table_name='media_completions')
    op.drop_index('ix_media_completions_media', table_name='media_completions')
    op.drop_table('media_completions')
