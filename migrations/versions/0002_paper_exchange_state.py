"""paper exchange state (balances, orders, positions, replay cursors) and grid_orders.buy_fee

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:10:45.228782
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('replay_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_replay_cursors'))
    )
    op.create_table('paper_balances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('asset', sa.String(length=16), nullable=False),
    sa.Column('free', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('locked', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_paper_balances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_balances')),
    sa.UniqueConstraint('user_id', 'asset', name=op.f('uq_paper_balances_user_id_asset'))
    )
    op.create_table('paper_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('qty', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('filled_qty', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('avg_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('fee', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('reserved', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('reduce_only', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.Column('filled_ts', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_paper_orders_side_known')),
    sa.CheckConstraint("status IN ('open', 'closed', 'canceled', 'rejected')", name=op.f('ck_paper_orders_status_known')),
    sa.CheckConstraint("type IN ('limit', 'market')", name=op.f('ck_paper_orders_type_known')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_paper_orders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_orders')),
    sa.UniqueConstraint('user_id', 'client_order_id', name=op.f('uq_paper_orders_user_id_client_order_id'))
    )
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.create_index('ix_paper_orders_status_symbol', ['status', 'symbol'], unique=False)
        batch_op.create_index('ix_paper_orders_user_symbol', ['user_id', 'symbol'], unique=False)

    op.create_table('paper_positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('qty', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('entry_price', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('leverage', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('margin', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('realized_pnl', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_paper_positions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_positions')),
    sa.UniqueConstraint('user_id', 'symbol', name=op.f('uq_paper_positions_user_id_symbol'))
    )
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buy_fee', db.types.ExactDecimal(precision=20, scale=8), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.drop_column('buy_fee')

    op.drop_table('paper_positions')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_orders_user_symbol')
        batch_op.drop_index('ix_paper_orders_status_symbol')

    op.drop_table('paper_orders')
    op.drop_table('paper_balances')
    op.drop_table('replay_cursors')
