"""episode.wait_from_on: the London date the current wait began, so today's waits read the episode alone

Revision ID: 0008_episode_wait_from_on
Revises: 0007_report_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_episode_wait_from_on'
down_revision = '0007_report_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('episode') as batch:
        batch.add_column(sa.Column('wait_from_on', sa.Date(), nullable=True))
    # The episode's last event carries the same date (event.wait_from_on is the state after it).
    op.execute("UPDATE episode SET wait_from_on = (SELECT event.wait_from_on FROM event "
               "WHERE event.episode_id = episode.id AND event.seq = episode.version)")


def downgrade() -> None:
    with op.batch_alter_table('episode') as batch:
        batch.drop_column('wait_from_on')
