"""report indexes: event.occurred_on, so reports find a period's events by date; merges the branches

Revision ID: 0007_report_indexes
Revises: 0003_reports, 0004_workers, 0005_api, 0006_history
"""

from alembic import op

revision = '0007_report_indexes'
down_revision = ('0003_reports', '0004_workers', '0005_api', '0006_history')
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_event_occurred_on', 'event', ['occurred_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_event_occurred_on', table_name='event')
