"""search terms fold Traditional Chinese to Simplified (tokenize.TERMS_VERSION 2)

Search now folds character variants on both sides, index and query (docs/search.md):
``刪除`` and ``删除`` make the same terms. A query is folded as it is typed, but the
terms an archive stored before this revision were not, so a Simplified query would miss
its Traditional posts. This data migration recomputes the full-text terms of every post
version from its stored text, in batches (``store._search.rebuild_terms``), on SQLite
and PostgreSQL. No table changes: the schema is 0006's.

The downgrade recomputes the unfolded terms of TERMS_VERSION 1.

Revision ID: 0007
Revises: 0006
"""
from functools import partial

from alembic import op

from unerased.store._search import rebuild_terms
from unerased.text.tokenize import index_terms

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild_terms(op.get_bind(), index_terms)


def downgrade() -> None:
    rebuild_terms(op.get_bind(), partial(index_terms, fold=False))
