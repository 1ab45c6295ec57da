"""hardening: agent sign-ins, message retries, outbox back-off

Revision ID: 0002_hardening
Revises: 0001
Create Date: 2026-12-01 23:00:00

Each agent sign-in gets a row (signing out deletes it, so a copied cookie dies
with it) and sockets name the sign-in they belong to. Messages keep the
sender's own id so a retry stores nothing new. Outbox mail gets a back-off time
and a "given up" mark, so one bad mail never blocks the rest.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_hardening"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gdprchat_agent_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["gdprchat_agents.id"], ondelete="CASCADE",
                                name=op.f("fk_gdprchat_agent_sessions_agent_id_gdprchat_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdprchat_agent_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gdprchat_agent_sessions_token_hash")),
    )
    op.create_index(op.f("ix_gdprchat_agent_sessions_agent_id"), "gdprchat_agent_sessions",
                    ["agent_id"], unique=False)
    with op.batch_alter_table("gdprchat_sockets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_session_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_gdprchat_sockets_agent_session_id"),
                              ["agent_session_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_gdprchat_sockets_agent_session_id_gdprchat_agent_sessions"),
            "gdprchat_agent_sessions", ["agent_session_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("gdprchat_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_msg_id", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_gdprchat_messages_client_msg_id",
                              ["conversation_id", "client_msg_id"], unique=True)
    with op.batch_alter_table("gdprchat_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_gdprchat_outbox_next_attempt_at"),
                              ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gdprchat_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gdprchat_outbox_next_attempt_at"))
        batch_op.drop_column("failed_at")
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("gdprchat_messages", schema=None) as batch_op:
        batch_op.drop_index("uq_gdprchat_messages_client_msg_id")
        batch_op.drop_column("client_msg_id")
    with op.batch_alter_table("gdprchat_sockets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_gdprchat_sockets_agent_session_id_gdprchat_agent_sessions"),
            type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_gdprchat_sockets_agent_session_id"))
        batch_op.drop_column("agent_session_id")
    op.drop_index(op.f("ix_gdprchat_agent_sessions_agent_id"),
                  table_name="gdprchat_agent_sessions")
    op.drop_table("gdprchat_agent_sessions")
