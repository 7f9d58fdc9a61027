"""the workforce: worker role, FTE and line manager; skills, absences, supervision, episode weights and
their audit log

Revision ID: 0014_workforce
Revises: 0009_fewer_write_indexes
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision = '0014_workforce'
down_revision = '0013_frontdoor'
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime


def _recorded() -> list:
    """When a row was recorded and by whom, and its id as the key."""
    return [sa.Column('recorded_at', Time(), nullable=False),
            sa.Column('recorded_by', String(length=200), nullable=False),
            sa.PrimaryKeyConstraint('id')]


def upgrade() -> None:
    op.add_column('worker', sa.Column('role', String(length=16), server_default='practitioner', nullable=False))
    op.add_column('worker', sa.Column('fte', sa.Float(), server_default='1', nullable=False))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its reference in place (alembic would rebuild the table, which
        # every episode refers to).
        op.execute('ALTER TABLE worker ADD COLUMN line_manager VARCHAR(64) REFERENCES worker (key)')
    else:
        op.add_column('worker', sa.Column('line_manager', String(length=64), sa.ForeignKey('worker.key'),
                                          nullable=True))
    op.create_index(op.f('ix_worker_line_manager'), 'worker', ['line_manager'], unique=False)
    op.create_table('worker_skill',
                    sa.Column('worker', String(length=64), sa.ForeignKey('worker.key'), nullable=False),
                    sa.Column('skill', String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('worker', 'skill'))
    op.create_table('absence',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('worker', String(length=64), sa.ForeignKey('worker.key'), nullable=False),
                    sa.Column('start', sa.Date(), nullable=False),
                    sa.Column('end', sa.Date(), nullable=False),
                    sa.Column('reason', String(length=16), nullable=False),
                    *_recorded())
    op.create_index('ix_absence_worker_start', 'absence', ['worker', 'start'], unique=False)
    op.create_table('supervision',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('worker', String(length=64), sa.ForeignKey('worker.key'), nullable=False),
                    sa.Column('supervisor', String(length=64), sa.ForeignKey('worker.key'), nullable=False),
                    sa.Column('on', sa.Date(), nullable=False),
                    sa.Column('minutes', sa.Integer(), nullable=False),
                    sa.Column('sampled', sa.Boolean(), nullable=False),
                    *_recorded())
    op.create_index('ix_supervision_worker_on', 'supervision', ['worker', 'on'], unique=False)
    op.create_table('episode_weight',
                    sa.Column('episode_id', sa.Integer(), sa.ForeignKey('episode.id'), nullable=False),
                    sa.Column('weight', sa.Float(), nullable=False),
                    sa.Column('reason', String(length=200), nullable=False),
                    sa.Column('set_at', Time(), nullable=False),
                    sa.Column('set_by', String(length=200), nullable=False),
                    sa.PrimaryKeyConstraint('episode_id'))
    op.create_table('workforce_event',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('worker', String(length=64), nullable=False),
                    sa.Column('kind', String(length=32), nullable=False),
                    sa.Column('data', sa.JSON(), nullable=False),
                    sa.Column('actor', String(length=200), nullable=False),
                    sa.Column('recorded_at', Time(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_workforce_event_worker', 'workforce_event', ['worker', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_workforce_event_worker', table_name='workforce_event')
    op.drop_table('workforce_event')
    op.drop_table('episode_weight')
    op.drop_index('ix_supervision_worker_on', table_name='supervision')
    op.drop_table('supervision')
    op.drop_index('ix_absence_worker_start', table_name='absence')
    op.drop_table('absence')
    op.drop_table('worker_skill')
    op.drop_index(op.f('ix_worker_line_manager'), table_name='worker')
    with op.batch_alter_table('worker') as batch_op:
        batch_op.drop_column('line_manager')
        batch_op.drop_column('fte')
        batch_op.drop_column('role')
