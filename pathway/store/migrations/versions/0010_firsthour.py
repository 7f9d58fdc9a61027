"""staff: a worker may be made inactive, and a change to a worker records who made it and when

Revision ID: 0010_firsthour
Revises: 0009_fewer_write_indexes
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0010_firsthour'
down_revision = '0009_fewer_write_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (a batch rebuild of worker on SQLite would trip its foreign keys).
    op.add_column('worker', sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('worker', sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('worker', sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column('worker', 'updated_by')
    op.drop_column('worker', 'updated_at')
    op.drop_column('worker', 'active')
