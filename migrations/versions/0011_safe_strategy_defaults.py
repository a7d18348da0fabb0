"""safe strategy defaults: the built-in presets and the AI model trade at 1-2x, and the AI model says it
is an opt-in filter (issue 16, section 5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:15:00.000000

The values are written out here (not imported from engine.trend.strategies) so this migration means the
same thing forever. Only the built-in rows change; users' own copies keep the leverage they saved.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name: (leverage before, leverage after)
LEVERAGE = {
    'ema_adx_baseline': (5, 2),
    'conservative': (5, 1),
    'balanced': (8, 2),
    'aggressive': (10, 2),
    'ai_model': (5, 2),
}
AI_MODEL_DESCRIPTION = (
    'Walk-forward gradient-boosted classifier (next 4 candles) gated by EMA 200 slope + ADX.',
    'Opt-in AI filter: an EMA 200 slope + ADX trend, traded only when a walk-forward gradient-boosted '
    'classifier (next 4 candles) agrees.',
)

strategies = sa.table(
    'strategies',
    sa.column('id', sa.Integer),
    sa.column('name', sa.String),
    sa.column('params', sa.JSON),
    sa.column('description', sa.Text),
    sa.column('is_builtin', sa.Boolean),
)


def _apply(after: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(strategies.c.id, strategies.c.name, strategies.c.params).where(
            strategies.c.is_builtin.is_(True), strategies.c.name.in_(list(LEVERAGE))
        )
    ).all()
    for row in rows:
        params = dict(row.params)
        params['risk'] = {**params['risk'], 'leverage': LEVERAGE[row.name][1 if after else 0]}
        values: dict[str, object] = {'params': params}
        if row.name == 'ai_model':
            values['description'] = AI_MODEL_DESCRIPTION[1 if after else 0]
        bind.execute(strategies.update().where(strategies.c.id == row.id).values(**values))


def upgrade() -> None:
    _apply(after=True)


def downgrade() -> None:
    _apply(after=False)
