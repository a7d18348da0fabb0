"""risk guards: the account's kill switch (drawdown from the equity peak, a floor), its daily loss limit,
and each bot's max loss and take profit / stop loss on its total PnL %

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:35:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_COLUMNS = (
    ('guard_drawdown', db.types.Percent),
    ('guard_floor', db.types.Money),
    ('guard_daily_loss', db.types.Money),
    ('equity_peak', db.types.Money),
    ('day_equity', db.types.Money),
)
BOT_COLUMNS = (
    ('max_loss', db.types.Money),
    ('pnl_take_profit', db.types.Percent),
    ('pnl_stop_loss', db.types.Percent),
)


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        for name, kind in USER_COLUMNS:
            batch_op.add_column(sa.Column(name, kind(), nullable=True))
        batch_op.add_column(sa.Column('guard_close', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('day_equity_on', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('guard_tripped_on', sa.String(length=10), nullable=True))
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        for name, kind in BOT_COLUMNS:
            batch_op.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bot_instances', schema=None) as batch_op:
        for name, _ in reversed(BOT_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('guard_tripped_on')
        batch_op.drop_column('day_equity_on')
        batch_op.drop_column('guard_close')
        for name, _ in reversed(USER_COLUMNS):
            batch_op.drop_column(name)
