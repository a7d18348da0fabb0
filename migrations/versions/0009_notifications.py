"""notifications: each user's level per event type, quiet hours and digest window

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:20:00.000000

users.notify: {event type: on | silent | off} (fill, cycle, trade, stop, error, report; missing: on);
users.quiet_from / quiet_to: local hours (in report_tz) between which alerts are held for one digest;
users.digest_minutes: a bot's fills and cycles coalesced over this window (0: off).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('quiet_from', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quiet_to', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('digest_minutes', sa.Integer(), server_default=sa.text('0'), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('digest_minutes')
        batch_op.drop_column('quiet_to')
        batch_op.drop_column('quiet_from')
        batch_op.drop_column('notify')
