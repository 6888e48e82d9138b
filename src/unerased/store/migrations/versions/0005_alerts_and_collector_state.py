"""alert rules and their outbox, the collector's key/value state, an account's schedule

- ``alert_rules``: who is told of what (``unerased alert add``); rules live in the
  database so that several collectors on one archive share them;
- ``alert_outbox``: every alert to deliver, keyed by its stable ``delivery_id`` (a
  restart never loses one nor enqueues one twice), its state (pending, delivered,
  failed), attempts and the time of the next one;
- ``collector_state``: what a collector keeps across restarts (``alerts.event_cursor``,
  ``stream:<name>`` cursors, ``heartbeat:<collector id>``), JSON values;
- ``accounts.schedule_json``: the adaptive schedule's per-account state.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('on_types', sa.Text(), nullable=True),
    sa.Column('tag_key', sa.Text(), nullable=True),
    sa.Column('tag_value', sa.Text(), nullable=True),
    sa.Column('min_posts', sa.Integer(), nullable=True),
    sa.Column('within_s', sa.Integer(), nullable=True),
    sa.Column('silent_days', sa.Integer(), nullable=True),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.String(length=128), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('delivered_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id')
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_alert_outbox_due', ['state', 'next_attempt'], unique=False)

    op.create_table('collector_state',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('schedule_json')
    op.drop_table('collector_state')
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_outbox_due')
    op.drop_table('alert_outbox')
    op.drop_table('alert_rules')
