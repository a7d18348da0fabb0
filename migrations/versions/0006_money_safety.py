"""money safety: the installation's id, bots bound to their venue, stopping as a state, fees in the coin

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

installation: one row, made here; its id is the namespace of every client order id (engine.client_ids).
users.api_account_id: the exchange account the stored keys open.
bot_instances.venue / venue_account: what a running bot was started on; stopping, stop_reason,
stop_requested_at, stop_note, delete_requested: a stop the engine is still carrying out.
grid_orders.held_qty, grid_bot_configs.dust_qty / dust_cost, trades.fee_base, paper_orders.fee_base: what a
fee taken in the coin bought leaves the bot (DESIGN.md, fill rule 8 and "A bot's life with real money").
bot_handbacks: coin a deleted bot handed back to its owner.
"""
import secrets
import string
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = db.types.ExactDecimal(precision=20, scale=8)


def _namespace() -> str:
    """Five lowercase letters and digits, a letter first (engine.client_ids.new_namespace, written out here
    so that this migration means the same thing whatever the code becomes)."""
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(alphabet) for _ in range(4))


def upgrade() -> None:
    installation = op.create_table(
        'installation',
        sa.Column('id', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
    )
    op.bulk_insert(installation, [{'id': _namespace()}])
    op.create_table(
        'bot_handbacks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('bot_instance_id', sa.Integer(), nullable=False),
        sa.Column('venue', sa.String(length=8), nullable=False),
        sa.Column('asset', sa.String(length=16), nullable=False),
        sa.Column('qty', MONEY, nullable=False),
        sa.Column('cost', MONEY, nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
        sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_bot_handbacks_bot_instance_id_bot_instances'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bot_handbacks_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_handbacks')),
    )
    with op.batch_alter_table('bot_handbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_handbacks_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('venue', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('venue_account', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('stopping', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('stop_reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('stop_requested_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('stop_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delete_requested', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(op.f('ck_bot_instances_venue_known'), "venue IN ('paper', 'live', 'demo')")
    # the bots running now were started on their user's mode of today
    op.execute(
        "UPDATE bot_instances SET venue = (SELECT CASE WHEN users.trading_mode = 'live' THEN "
        "CASE WHEN users.demo_trading THEN 'demo' ELSE 'live' END ELSE 'paper' END FROM users "
        "WHERE users.id = bot_instances.user_id) WHERE is_running"
    )
    with op.batch_alter_table('grid_bot_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dust_qty', MONEY, server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('dust_cost', MONEY, server_default=sa.text('0'), nullable=False))
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_qty', MONEY, nullable=True))
    # what an interval holds today is what it bought (fees were taken in quote before)
    op.execute(
        "UPDATE grid_orders SET held_qty = buy_filled_qty WHERE status IN ('buy_filled', 'sell_placed')"
    )
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_base', MONEY, server_default=sa.text('0'), nullable=False))
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_base', MONEY, nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_account_id', sa.String(length=64), nullable=True))
    # alerts go to the user's private chat with the bot (its id is the user's), never a group
    op.execute("UPDATE users SET chat_id = telegram_id")


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('api_account_id')
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_column('fee_base')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_column('fee_base')
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.drop_column('held_qty')
    with op.batch_alter_table('grid_bot_configs', schema=None) as batch_op:
        batch_op.drop_column('dust_cost')
        batch_op.drop_column('dust_qty')
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_bot_instances_venue_known'), type_='check')
        batch_op.drop_column('delete_requested')
        batch_op.drop_column('stop_note')
        batch_op.drop_column('stop_requested_at')
        batch_op.drop_column('stop_reason')
        batch_op.drop_column('stopping')
        batch_op.drop_column('venue_account')
        batch_op.drop_column('venue')
    with op.batch_alter_table('bot_handbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_handbacks_user_id'))
    op.drop_table('bot_handbacks')
    op.drop_table('installation')
