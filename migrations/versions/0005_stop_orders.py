"""stop-market orders on the paper exchange, the trend bot's exchange-side stop loss

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00.000000

paper_orders.trigger_price: a resting reduce-only stop-market order's trigger (engine.venues.paper.venue);
trend_positions.sl_order_id: the client order id of a position's exchange-side stop loss.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger_price', db.types.ExactDecimal(precision=20, scale=8), nullable=True))
    with op.batch_alter_table('trend_positions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sl_order_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trend_positions', schema=None) as batch_op:
        batch_op.drop_column('sl_order_id')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_column('trigger_price')
