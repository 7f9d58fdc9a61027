"""board sessions: the huddle board's sign-in on one browser, by the hash of its cookie's secret

Revision ID: 0012_board
Revises: 0010_hardening
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0012_board'
down_revision = '0011_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('board_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_hash')
    )
    op.create_index('ix_board_session_token_id', 'board_session', ['token_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_board_session_token_id', table_name='board_session')
    op.drop_table('board_session')
