"""fewer indexes to keep up on every change: event.episode_id (uq_event_episode_seq, which begins with
it, serves every lookup by episode) and outbox.episode_id (nothing looks messages up by episode)

Revision ID: 0009_fewer_write_indexes
Revises: 0008_episode_wait_from_on
"""

from alembic import op

revision = '0009_fewer_write_indexes'
down_revision = '0008_episode_wait_from_on'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_event_episode_id', table_name='event')
    op.drop_index('ix_outbox_episode_id', table_name='outbox')


def downgrade() -> None:
    op.create_index('ix_outbox_episode_id', 'outbox', ['episode_id'], unique=False)
    op.create_index('ix_event_episode_id', 'event', ['episode_id'], unique=False)
