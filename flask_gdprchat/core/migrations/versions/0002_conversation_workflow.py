"""conversation workflow: agent display names and presence, saved replies

Revision ID: 0002_conversation_workflow
Revises: 0001
Create Date: 2026-12-02 09:00:00

Agents get a display name (what visitors see) and a presence (online or away);
conversations get an index on their assignee for the "Mine" inbox; saved
replies get their own table. Existing agents get a display name derived from
their full name, and their kept first name is brought in line with it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_conversation_workflow"
down_revision = "0001"
branch_labels = None
depends_on = None

# A frozen copy of the rule in flask_gdprchat.team.agents: a migration must not
# change meaning when the application code changes later.
_TITLES = {"dr", "prof", "mr", "mrs", "ms", "mx", "miss", "sir", "dame", "herr", "frau",
           "mme", "mlle", "dott", "ing", "mag"}


def _first_word(name: str) -> str:
    words = name.split()
    for word in words:
        if word.rstrip(".").lower() not in _TITLES:
            return word
    return words[0] if words else "Agent"


def upgrade() -> None:
    op.create_table(
        "gdprchat_saved_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdprchat_saved_replies")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_gdprchat_saved_replies_shortcut")),
    )
    with op.batch_alter_table("gdprchat_agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("presence", sa.String(length=16), server_default="online",
                                      nullable=False))
    with op.batch_alter_table("gdprchat_conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gdprchat_conversations_assigned_agent_id"),
                              ["assigned_agent_id"], unique=False)

    agents = sa.table("gdprchat_agents", sa.column("id", sa.Integer),
                      sa.column("full_name", sa.String), sa.column("display_name", sa.String),
                      sa.column("first_name", sa.String))
    connection = op.get_bind()
    # Only agents not yet deleted still have a full name to derive from.
    rows = connection.execute(
        sa.select(agents.c.id, agents.c.full_name).where(agents.c.full_name.is_not(None))
    ).all()
    for agent_id, full_name in rows:
        shown = _first_word(full_name)
        connection.execute(agents.update().where(agents.c.id == agent_id)
                           .values(display_name=shown, first_name=shown))


def downgrade() -> None:
    with op.batch_alter_table("gdprchat_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gdprchat_conversations_assigned_agent_id"))
    with op.batch_alter_table("gdprchat_agents", schema=None) as batch_op:
        batch_op.drop_column("presence")
        batch_op.drop_column("display_name")
    op.drop_table("gdprchat_saved_replies")
