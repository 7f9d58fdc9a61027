"""reports: the working-day calendar

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
    # Filled here so working days can be counted in SQL from the first report on.
    from pathway.calendar import CALENDAR, calendar_rows

    op.bulk_insert(CALENDAR, [dict(r) for r in calendar_rows()])


def downgrade() -> None:
    op.drop_table('calendar_day')
