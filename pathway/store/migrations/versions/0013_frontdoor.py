"""the front door's clock (a contact's wait runs from its occurred_at), the event kinds' episode_progress,
the back end's own case reference on the episode (external_ref, unique per team) and the London date of
its allocation (allocated_on)

Revision ID: 0013_frontdoor
Revises: 0009_fewer_write_indexes
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013_frontdoor'
down_revision = '0010_firsthour'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'episode_progress',
        sa.Column('episode_id', sa.Integer(), sa.ForeignKey('episode.id'), primary_key=True),
        sa.Column('flagged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('flag_reason', sa.String(length=500), nullable=True),
        sa.Column('next_action', sa.String(length=500), nullable=True),
        sa.Column('next_action_due', sa.Date(), nullable=True),
        sa.Column('discussed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('discussed_where', sa.String(length=16), nullable=True),
        sa.Column('discussed_on', sa.Date(), nullable=True),
        sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index('ix_episode_progress_flagged', 'episode_progress', ['flagged_at'])
    with op.batch_alter_table('episode') as batch:
        batch.add_column(sa.Column('external_ref', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('allocated_on', sa.Date(), nullable=True))
        batch.create_unique_constraint('uq_episode_team_external_ref', ['team', 'external_ref'])
    # The front door's clock: a contact waits from its own occurred_at (the state after the contact's
    # event, and the episode still at contact).
    op.execute("UPDATE event SET wait_from = occurred_at, wait_from_on = occurred_on "
               "WHERE trigger = 'record_contact' AND wait_from IS NULL")
    op.execute("UPDATE episode SET wait_from = contact_at, wait_from_on = (SELECT event.occurred_on FROM event "
               "WHERE event.episode_id = episode.id AND event.seq = 1) "
               "WHERE stage = 'contact' AND wait_from IS NULL")
    # The London date of the allocation: the day of the event that made it.
    op.execute("UPDATE episode SET allocated_on = (SELECT min(event.occurred_on) FROM event "
               "WHERE event.episode_id = episode.id AND event.occurred_at = episode.allocated_at) "
               "WHERE allocated_at IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE episode SET wait_from = NULL, wait_from_on = NULL WHERE stage = 'contact'")
    op.execute("UPDATE event SET wait_from = NULL, wait_from_on = NULL WHERE trigger = 'record_contact'")
    with op.batch_alter_table('episode') as batch:
        batch.drop_constraint('uq_episode_team_external_ref', type_='unique')
        batch.drop_column('allocated_on')
        batch.drop_column('external_ref')
    op.drop_index('ix_episode_progress_flagged', table_name='episode_progress')
    op.drop_table('episode_progress')
