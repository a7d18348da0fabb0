"""built-in strategies: the EMA+ADX baseline, the plan's three presets and the AI model

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The rows are written out here (not imported from engine.trend.strategies) so this migration means the same
thing forever; a later change of a preset is a later migration.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUILTIN = [{'name': 'ema_adx_baseline',
  'kind': 'ema_adx',
  'timeframe': '1h',
  'params': {'ema_fast': 20,
             'ema_slow': 50,
             'adx_period': 14,
             'adx_min': 20,
             'risk': {'leverage': 5,
                      'stop_loss_percent': '3',
                      'take_profit_percent': '6',
                      'entry_percent': '30',
                      'max_positions': 3}},
  'description': 'Baseline: EMA 20/50 trend with an ADX > 20 filter.',
  'is_builtin': True},
 {'name': 'conservative',
  'kind': 'ema_volume_rsi',
  'timeframe': '4h',
  'params': {'ema_fast': 20,
             'ema_slow': 50,
             'volume_period': 20,
             'volume_mult': 1.5,
             'rsi_period': 14,
             'rsi_mid': 50,
             'risk': {'leverage': 5,
                      'stop_loss_percent': '4',
                      'take_profit_percent': '8',
                      'entry_percent': '20',
                      'max_positions': 3}},
  'description': "EMA 20/50 trend + volume > 1.5x average + RSI on the trend's side of 50.",
  'is_builtin': True},
 {'name': 'balanced',
  'kind': 'rsi_divergence_macd',
  'timeframe': '1h',
  'params': {'rsi_period': 14,
             'divergence_lookback': 14,
             'divergence_window': 12,
             'macd_fast': 12,
             'macd_slow': 26,
             'macd_signal': 9,
             'trend_ema': 200,
             'risk': {'leverage': 8,
                      'stop_loss_percent': '2',
                      'take_profit_percent': '4',
                      'entry_percent': '30',
                      'max_positions': 3}},
  'description': 'RSI divergence confirmed by MACD, with the EMA 200 as trend filter.',
  'is_builtin': True},
 {'name': 'aggressive',
  'kind': 'bollinger_breakout',
  'timeframe': '1h',
  'params': {'bb_period': 20,
             'bb_width': 2.0,
             'adx_period': 14,
             'adx_min': 25,
             'volume_period': 20,
             'volume_mult': 2.0,
             'risk': {'leverage': 10,
                      'stop_loss_percent': '1.5',
                      'take_profit_percent': '4',
                      'entry_percent': '40',
                      'max_positions': 3}},
  'description': 'Bollinger band breakout with ADX > 25 and volume > 2x average.',
  'is_builtin': True},
 {'name': 'ai_model',
  'kind': 'ai_model',
  'timeframe': '1h',
  'params': {'threshold': 0.55,
             'trend_ema': 200,
             'slope_lag': 24,
             'adx_period': 14,
             'adx_min': 20,
             'model': {'kind': 'hgb',
                       'horizon': 4,
                       'train_window': 8760,
                       'retrain_every': 720,
                       'min_train': 4000,
                       'max_iter': 150,
                       'learning_rate': 0.05,
                       'max_leaf_nodes': 15,
                       'min_samples_leaf': 200,
                       'l2_regularization': 1.0,
                       'random_state': 0},
             'risk': {'leverage': 5,
                      'stop_loss_percent': '3',
                      'take_profit_percent': '6',
                      'entry_percent': '30',
                      'max_positions': 3}},
  'description': 'Walk-forward gradient-boosted classifier (next 4 candles) gated by EMA 200 slope '
                 '+ ADX.',
  'is_builtin': True}]

strategies = sa.table(
    "strategies",
    sa.column("user_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("timeframe", sa.String),
    sa.column("params", sa.JSON),
    sa.column("description", sa.Text),
    sa.column("is_builtin", sa.Boolean),
)


def upgrade() -> None:
    op.bulk_insert(strategies, [{"user_id": None, **row} for row in BUILTIN])


def downgrade() -> None:
    op.execute(
        strategies.delete().where(
            strategies.c.is_builtin.is_(True), strategies.c.name.in_([row["name"] for row in BUILTIN])
        )
    )
