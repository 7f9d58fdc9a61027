"""webhooks: the event feed's position (and team) on outbox rows, per-subscriber team filters, secret
rotation, deliveries kept in order per episode, redelivery; Standard Webhooks secrets (whsec_)

Revision ID: 0011_webhooks
Revises: 0009_fewer_write_indexes
"""

import base64

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011_webhooks'
down_revision = '0010_hardening'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teams', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('secret_rotated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('secret_rotated_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('episode_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('previous_outbox_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('redelivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('redelivered_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.drop_column('queued_at')
    conn = op.get_bind()
    team = "payload->>'team'" if conn.dialect.name == "postgresql" else "json_extract(payload, '$.team')"
    # Rows relayed already take their place in the feed in the order they were written.
    conn.exec_driver_sql(f"UPDATE outbox SET position = id, team = {team} WHERE sent_at IS NOT NULL")
    conn.exec_driver_sql("UPDATE delivery SET episode_id = (SELECT episode_id FROM outbox WHERE outbox.id = delivery.outbox_id)")
    # A secret of the engine's own scheme keeps signing with the same key bytes, now in the whsec_ form.
    for hook_id, secret in conn.exec_driver_sql("SELECT id, secret FROM webhook").all():
        if not secret.startswith("whsec_"):
            conn.execute(sa.text("UPDATE webhook SET secret = :s WHERE id = :id"),
                         {"s": "whsec_" + base64.b64encode(secret.encode()).decode(), "id": hook_id})
    op.create_index('ux_outbox_position', 'outbox', ['position'], unique=True)
    op.create_index('ix_delivery_chain', 'delivery', ['webhook_id', 'episode_id', 'outbox_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_chain', table_name='delivery')
    op.drop_index('ux_outbox_position', table_name='outbox')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_column('redelivered_by')
        batch_op.drop_column('redelivered_at')
        batch_op.drop_column('previous_outbox_id')
        batch_op.drop_column('episode_id')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        for name in ('secret_rotated_by', 'secret_rotated_at', 'previous_secret_until', 'previous_secret', 'teams'):
            batch_op.drop_column(name)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('team')
        batch_op.drop_column('position')
