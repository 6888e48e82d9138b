"""leaf hashes are kept once, in ledger_leaves: ledger_nodes holds levels >= 1

A leaf's hash (the tree's level-0 node) was stored twice, in ``ledger_leaves.leaf_hash``
and as a ``ledger_nodes`` row of level 0. The second copy cost a B-tree insert per leaf
on the import path; the tree now reads level 0 from ``ledger_leaves``.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM ledger_nodes WHERE level = 0"))


def downgrade() -> None:
    op.execute(sa.text("INSERT INTO ledger_nodes (level, idx, hash) "
                       "SELECT 0, idx, leaf_hash FROM ledger_leaves"))
