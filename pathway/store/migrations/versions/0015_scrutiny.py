"""scrutiny: case-file audit samples, the episodes drawn, and the audits

Revision ID: 0015_scrutiny
Revises: 0009_fewer_write_indexes
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0015_scrutiny'
down_revision = '0014_workforce'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('stratify', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('drawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('drawn_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period_from', 'period_to', 'rate', 'stratify', 'seed', name='uq_audit_sample_draw')
    )
    op.create_table('audit_sampled',
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['episode.id'], ),
    sa.ForeignKeyConstraint(['sample_id'], ['audit_sample.id'], ),
    sa.PrimaryKeyConstraint('sample_id', 'episode_id')
    )
    op.create_index('ix_audit_sampled_episode_id', 'audit_sampled', ['episode_id'], unique=False)
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('rating', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('auditor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('audited_on', sa.Date(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('in_sample', sa.Boolean(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['episode.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_episode_id', 'audit', ['episode_id'], unique=False)
    op.create_index('ix_audit_audited_on', 'audit', ['audited_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_audited_on', table_name='audit')
    op.drop_index('ix_audit_episode_id', table_name='audit')
    op.drop_table('audit')
    op.drop_index('ix_audit_sampled_episode_id', table_name='audit_sampled')
    op.drop_table('audit_sampled')
    op.drop_table('audit_sample')
