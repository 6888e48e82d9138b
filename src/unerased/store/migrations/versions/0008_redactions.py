"""redactions: content removed on request, with the ledger kept verifiable

- ``redactions`` (leafed, record kind ``redaction``): when, why, whether a post or an
  account, which leaves were redacted and which raw captures removed — never the content;
- ``redacted_ids``: the posts and accounts a redaction keeps out of the archive (a later
  import or poll does not bring them back) until ``unerased unredact`` lifts it.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('redactions',
    sa.Column('id', _ID, autoincrement=False, nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('leaves_json', sa.Text(), nullable=False),
    sa.Column('captures_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('redacted_ids',
    sa.Column('id', _ID, autoincrement=False, nullable=False),
    sa.Column('redaction_pk', sa.BigInteger(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.String(length=512), nullable=False),
    sa.Column('post_id', sa.String(length=512), nullable=True),
    sa.Column('lifted_at', sa.String(length=32), nullable=True),
    sa.Column('lifted_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('redacted_ids', schema=None) as batch_op:
        batch_op.create_index('ix_redacted_ids_account', ['platform', 'account_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('redacted_ids', schema=None) as batch_op:
        batch_op.drop_index('ix_redacted_ids_account')
    op.drop_table('redacted_ids')
    op.drop_table('redactions')
