"""hardening: tokens expire (api_token.expires_at), and the access log of who read whose record

Revision ID: 0010_hardening
Revises: 0009_fewer_write_indexes
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0010_hardening'
down_revision = '0015_scrutiny'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_token') as batch:
        batch.add_column(sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_access_log_episode', 'access_log', ['episode_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_access_log_episode', table_name='access_log')
    op.drop_table('access_log')
    with op.batch_alter_table('api_token') as batch:
        batch.drop_column('expires_at')
