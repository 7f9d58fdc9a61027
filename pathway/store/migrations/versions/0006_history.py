"""history: the back end's reference for each imported episode

Revision ID: 0006_history
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006_history'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('episode_ref',
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('imported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['episode.id'], ),
    sa.PrimaryKeyConstraint('ref'),
    sa.UniqueConstraint('episode_id')
    )


def downgrade() -> None:
    op.drop_table('episode_ref')
