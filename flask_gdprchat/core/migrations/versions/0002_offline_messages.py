"""offline messages: conversations left while nobody could answer

Revision ID: 0002_offline_messages
Revises: 0001
Create Date: 2026-12-03 09:00:00

A visitor who finds nobody online leaves a message that an agent answers by
e-mail. Such a conversation is marked ``offline``; every existing one is a live
chat (false).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_offline_messages"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gdprchat_conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offline", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("gdprchat_conversations", schema=None) as batch_op:
        batch_op.drop_column("offline")
