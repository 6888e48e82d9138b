"""web users, their sessions, API tokens and one-time login links (``unerased serve``)

- ``web_users``: a name, a role (viewer, editor, admin) and an Argon2id password hash
  (None until the user sets one after a login link);
- ``web_sessions``: signed-in browsers; the cookie holds a random id, the table its
  SHA-256 and expiry (logout and ``user remove`` end a session at once);
- ``web_api_tokens``: ``Authorization: Bearer`` tokens, kept as their SHA-256 only;
- ``web_login_links``: one-time login links, kept as the SHA-256 of their token, with an
  expiry and the time they were used (single use).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sqlite_autoincrement=True
    )
    op.create_table('web_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_user_id', ['user_id'], unique=False)
    op.create_table('web_api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('last_used', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('web_api_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_web_api_tokens_user_id', ['user_id'], unique=False)
    op.create_table('web_login_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.String(length=32), nullable=False),
    sa.Column('used_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('web_login_links', schema=None) as batch_op:
        batch_op.create_index('ix_web_login_links_user_id', ['user_id'], unique=False)


def downgrade() -> None:
    for table in ('web_login_links', 'web_api_tokens', 'web_sessions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_user_id')
        op.drop_table(table)
    op.drop_table('web_users')
