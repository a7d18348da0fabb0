"""account kind: which Bitget account the stored keys open (classic, API v2, or unified, API v3)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:00:00.000000

users.api_account_kind: classic or uta, detected when the keys are entered (and again when Bitget refuses
a call for the kind: 40084 / 40085); NULL for keys stored before, detected on their first connection.
users.api_account_hint: the exchange account id (uid), masked, as the chat shows it.
users.api_keys_demo: the stored keys are demo-trading keys (Bitget's demo keys work only in demo trading).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_account_kind', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('api_account_hint', sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column('api_keys_demo', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('api_keys_demo')
        batch_op.drop_column('api_account_hint')
        batch_op.drop_column('api_account_kind')
