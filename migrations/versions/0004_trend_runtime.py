"""trend bot state, positions and stored models

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:48:17.513211

The AI trend runtime's tables: per-bot state (last decided candle), the per-bot position ledger
(journaled client order ids) and trained models stored per (strategy, symbol, timeframe).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('trend_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('model', sa.LargeBinary(), nullable=False),
    sa.Column('trained_until', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_trend_models_strategy_id_strategies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trend_models')),
    sa.UniqueConstraint('strategy_id', 'symbol', 'timeframe', name=op.f('uq_trend_models_strategy_id_symbol_timeframe'))
    )
    op.create_table('trend_bot_states',
    sa.Column('bot_instance_id', sa.Integer(), nullable=False),
    sa.Column('last_candle_ts', sa.BigInteger(), nullable=True),
    sa.Column('close_on_stop', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_trend_bot_states_bot_instance_id_bot_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bot_instance_id', name=op.f('pk_trend_bot_states'))
    )
    op.create_table('trend_positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='opening', nullable=False),
    sa.Column('qty', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('margin', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('leverage', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('candle_ts', sa.BigInteger(), nullable=False),
    sa.Column('reference_price', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('entry_order_id', sa.String(length=64), nullable=False),
    sa.Column('entry_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('entry_fee', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('entry_ts', sa.BigInteger(), nullable=True),
    sa.Column('stop_loss', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('take_profit', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('liquidation', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('tp_order_id', sa.String(length=64), nullable=True),
    sa.Column('exit_order_id', sa.String(length=64), nullable=True),
    sa.Column('exit_reason', sa.String(length=12), nullable=True),
    sa.Column('exit_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('exit_fee', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('exit_ts', sa.BigInteger(), nullable=True),
    sa.Column('pnl', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("side IN ('long', 'short')", name=op.f('ck_trend_positions_side_known')),
    sa.CheckConstraint("status IN ('opening', 'open', 'closing', 'closed', 'failed')", name=op.f('ck_trend_positions_status_known')),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_trend_positions_bot_instance_id_bot_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trend_positions')),
    sa.UniqueConstraint('bot_instance_id', 'seq', name=op.f('uq_trend_positions_bot_instance_id_seq'))
    )
    with op.batch_alter_table('trend_positions', schema=None) as batch_op:
        batch_op.create_index('ix_trend_positions_bot_status', ['bot_instance_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('trend_positions', schema=None) as batch_op:
        batch_op.drop_index('ix_trend_positions_bot_status')

    op.drop_table('trend_positions')
    op.drop_table('trend_bot_states')
    op.drop_table('trend_models')
