"""reports: the working-day calendar, and an index to find episodes changed since a day

Revision ID: 0003_reports
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0003_reports'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_working', sa.Boolean(), nullable=False),
    sa.Column('working_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    with op.batch_alter_table('episode', schema=None) as batch_op:
        batch_op.create_index('ix_episode_stage_at', ['stage_at'], unique=False)
    # Filled here so working days can be counted in SQL from the first report on.
    from pathway.store.calendar import CALENDAR, calendar_rows

    op.bulk_insert(CALENDAR, [dict(r) for r in calendar_rows()])


def downgrade() -> None:
    with op.batch_alter_table('episode', schema=None) as batch_op:
        batch_op.drop_index('ix_episode_stage_at')
    op.drop_table('calendar_day')
