"""reports: each user's daily and weekly report settings, and one row per report written

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:00:00.000000

users.report_daily / report_weekly / report_hour / report_tz: when the user's reports go out (the hour
in the time zone; NULL zone: the language's default, Asia/Seoul for Korean, UTC otherwise).
account_reports: one row per user, kind and period, written with the report's outbox row; its unique key
makes a report go out exactly once, and its equity is the per-day history the reports draw.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_daily', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(
            sa.Column('report_weekly', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('report_hour', sa.Integer(), server_default=sa.text('9'), nullable=False))
        batch_op.add_column(sa.Column('report_tz', sa.String(length=64), nullable=True))
    op.create_table(
        'account_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('period_start', sa.DateTime(), nullable=False),
        sa.Column('period_end', sa.DateTime(), nullable=False),
        sa.Column('equity', db.types.Money(), nullable=True),
        sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True),
        sa.CheckConstraint("kind IN ('daily', 'weekly')", name=op.f('ck_account_reports_report_kind_known')),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_account_reports_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_reports')),
        sa.UniqueConstraint('user_id', 'kind', 'period_start', name='uq_account_reports_period'),
    )


def downgrade() -> None:
    op.drop_table('account_reports')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('report_tz')
        batch_op.drop_column('report_hour')
        batch_op.drop_column('report_weekly')
        batch_op.drop_column('report_daily')
