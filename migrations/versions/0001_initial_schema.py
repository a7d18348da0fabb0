"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types
from db.types import num


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=128), nullable=True),
    sa.Column('language', sa.String(length=2), server_default='en', nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('exchange_id', sa.String(length=32), server_default='bitget', nullable=False),
    sa.Column('trading_mode', sa.String(length=10), server_default='paper', nullable=False),
    sa.Column('demo_trading', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('api_key_enc', sa.Text(), nullable=True),
    sa.Column('api_secret_enc', sa.Text(), nullable=True),
    sa.Column('api_passphrase_enc', sa.Text(), nullable=True),
    sa.Column('api_key_hint', sa.String(length=16), nullable=True),
    sa.Column('paper_balance', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('10000'), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("language IN ('ko', 'en')", name=op.f('ck_users_language_known')),
    sa.CheckConstraint("trading_mode IN ('paper', 'live')", name=op.f('ck_users_trading_mode_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('telegram_id', name=op.f('uq_users_telegram_id'))
    )
    op.create_table('strategies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), server_default='1h', nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_builtin', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_strategies_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategies')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_strategies_user_id_name'))
    )
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategies_user_id'), ['user_id'], unique=False)

    op.create_table('bot_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('bot_type', sa.String(length=20), server_default='ai_trend', nullable=False),
    sa.Column('allocation_percent', db.types.ExactDecimal(precision=5, scale=2), server_default=sa.text('10.0'), nullable=False),
    sa.Column('symbol', sa.String(length=20), server_default='BTCUSDT', nullable=False),
    sa.Column('max_leverage', sa.Integer(), server_default=sa.text('10'), nullable=False),
    sa.Column('max_positions', sa.Integer(), server_default=sa.text('3'), nullable=False),
    sa.Column('stop_loss_percent', db.types.ExactDecimal(precision=5, scale=2), server_default=sa.text('5.0'), nullable=True),
    sa.Column('take_profit_percent', db.types.ExactDecimal(precision=5, scale=2), server_default=sa.text('10.0'), nullable=True),
    sa.Column('telegram_notify', sa.Boolean(), server_default=sa.true(), nullable=True),
    sa.Column('is_running', sa.Boolean(), server_default=sa.false(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=True),
    sa.Column('last_started_at', sa.DateTime(), nullable=True),
    sa.Column('last_stopped_at', sa.DateTime(), nullable=True),
    sa.Column('last_trade_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('total_trades', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('winning_trades', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('total_pnl', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("bot_type IN ('ai_trend', 'grid')", name=op.f('ck_bot_instances_bot_type_known')),
    sa.CheckConstraint(sa.and_(num('allocation_percent') > 0, num('allocation_percent') <= 100), name=op.f('check_allocation')),
    sa.CheckConstraint('max_leverage >= 1 AND max_leverage <= 100', name=op.f('ck_bot_instances_max_leverage_range')),
    sa.CheckConstraint('max_positions >= 1 AND max_positions <= 20', name=op.f('ck_bot_instances_max_positions_range')),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_bot_instances_strategy_id_strategies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bot_instances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_instances')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('unique_bot_name_per_user'))
    )
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        batch_op.create_index('idx_bot_instances_type', ['bot_type'], unique=False)
        batch_op.create_index('idx_bot_instances_user_id', ['user_id'], unique=False)
        batch_op.create_index('idx_bot_instances_user_running', ['user_id', 'is_running'], unique=False)

    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_alert_outbox_bot_instance_id_bot_instances'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_outbox_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_outbox'))
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_alert_outbox_pending', ['sent_at', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_outbox_user_id'), ['user_id'], unique=False)

    op.create_table('grid_bot_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=False),
    sa.Column('lower_price', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('upper_price', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('grid_count', sa.Integer(), server_default=sa.text('10'), nullable=False),
    sa.Column('grid_mode', sa.String(length=20), server_default='arithmetic', nullable=True),
    sa.Column('total_investment', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('per_grid_amount', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('trigger_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('stop_upper', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('stop_lower', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('close_position_on_stop', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('current_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('active_buy_orders', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('active_sell_orders', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('filled_buy_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('filled_sell_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('realized_profit', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("grid_mode IN ('arithmetic', 'geometric')", name=op.f('ck_grid_bot_configs_grid_mode_known')),
    sa.CheckConstraint(num('upper_price') > num('lower_price'), name=op.f('check_price_range')),
    sa.CheckConstraint('grid_count >= 2 AND grid_count <= 100', name=op.f('ck_grid_bot_configs_grid_count_range')),
    sa.CheckConstraint('grid_count >= 2', name=op.f('check_grid_count')),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_grid_bot_configs_bot_instance_id_bot_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_bot_configs')),
    sa.UniqueConstraint('bot_instance_id', name=op.f('uq_grid_bot_configs_bot_instance_id'))
    )
    op.create_table('trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=True),
    sa.Column('trade_source', sa.String(length=20), server_default='manual', nullable=True),
    sa.Column('symbol', sa.String(length=20), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('order_type', sa.String(length=10), server_default='limit', nullable=False),
    sa.Column('qty', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('price', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('fee', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=False),
    sa.Column('fee_currency', sa.String(length=10), nullable=True),
    sa.Column('realized_pnl', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('exchange_order_id', sa.String(length=100), nullable=True),
    sa.Column('client_order_id', sa.String(length=64), nullable=True),
    sa.Column('executed_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_trades_side_known')),
    sa.CheckConstraint("trade_source IN ('manual', 'ai_bot', 'grid_bot')", name=op.f('ck_trades_trade_source_known')),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instances.id'], name=op.f('fk_trades_bot_instance_id_bot_instances')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trades_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trades')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_trades_client_order_id'))
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.create_index('idx_trades_bot_instance', ['bot_instance_id'], unique=False)
        batch_op.create_index('ix_trades_user_id_executed_at', ['user_id', 'executed_at'], unique=False)

    op.create_table('grid_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_config_id', sa.Integer(), nullable=False),
    sa.Column('grid_index', sa.Integer(), nullable=False),
    sa.Column('grid_price', db.types.ExactDecimal(precision=20, scale=8), nullable=False),
    sa.Column('buy_order_id', sa.String(length=100), nullable=True),
    sa.Column('sell_order_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='pending', nullable=True),
    sa.Column('cycle', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('qty', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('buy_filled_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('buy_filled_qty', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('buy_filled_at', sa.DateTime(), nullable=True),
    sa.Column('sell_filled_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('sell_filled_qty', db.types.ExactDecimal(precision=20, scale=8), nullable=True),
    sa.Column('sell_filled_at', sa.DateTime(), nullable=True),
    sa.Column('profit', db.types.ExactDecimal(precision=20, scale=8), server_default=sa.text('0'), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'buy_placed', 'buy_filled', 'sell_placed', 'sell_filled')", name=op.f('ck_grid_orders_status_known')),
    sa.ForeignKeyConstraint(['grid_config_id'], ['grid_bot_configs.id'], name=op.f('fk_grid_orders_grid_config_id_grid_bot_configs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_orders')),
    sa.UniqueConstraint('grid_config_id', 'grid_index', name=op.f('unique_grid_per_config'))
    )
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.create_index('idx_grid_orders_config', ['grid_config_id'], unique=False)
        batch_op.create_index('idx_grid_orders_status', ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grid_orders', schema=None) as batch_op:
        batch_op.drop_index('idx_grid_orders_status')
        batch_op.drop_index('idx_grid_orders_config')

    op.drop_table('grid_orders')
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_index('ix_trades_user_id_executed_at')
        batch_op.drop_index('idx_trades_bot_instance')

    op.drop_table('trades')
    op.drop_table('grid_bot_configs')
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_outbox_user_id'))
        batch_op.drop_index('ix_alert_outbox_pending')

    op.drop_table('alert_outbox')
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        batch_op.drop_index('idx_bot_instances_user_running')
        batch_op.drop_index('idx_bot_instances_user_id')
        batch_op.drop_index('idx_bot_instances_type')

    op.drop_table('bot_instances')
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategies_user_id'))

    op.drop_table('strategies')
    op.drop_table('users')
