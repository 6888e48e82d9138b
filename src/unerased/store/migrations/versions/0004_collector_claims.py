"""collector claims, the state version and a watch's own proxy, on accounts

- ``claimed_by``, ``claimed_until``: the lease a collector holds on an account while it
  checks it (two collectors on one home never check one account at once; a crashed
  collector's lease expires);
- ``state_version``: bumped by every stored check; a check's result is stored only if
  the version is still the one the check read (compare-and-set), so that two
  overlapping checks of one account never store one observation twice;
- ``proxy``: the proxy given at ``watch add --proxy``, used for every request made for
  the watch.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('state_version', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('proxy', sa.Text(), nullable=True))
        batch_op.create_index('ix_accounts_watched_next', ['watched', 'next_check'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_watched_next')
        batch_op.drop_column('proxy')
        batch_op.drop_column('state_version')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
