"""sealed agents: a team member's own values encrypted under the agent's key

Revision ID: 0004_sealed_agents
Revises: 0003_sealed_values
Create Date: 2026-12-02 18:30:00

The e-mail, names, photo and password hash of a team member get encrypted twins
``<name>_sealed``, and the sign-in e-mail a keyed blind index, unique as the
address is. The first name stays plain: it is what an agent's messages keep
after the agent is erased, when its key is gone. Rows already stored keep their
plain values until ``flask gdprchat seal-existing`` (or the purge job) seals them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sealed_agents"
down_revision = "0003_sealed_values"
branch_labels = None
depends_on = None

SEALED = ("email", "full_name", "display_name", "photo", "password_hash")


def upgrade() -> None:
    with op.batch_alter_table("gdprchat_agents", schema=None) as batch_op:
        for column in SEALED:
            batch_op.add_column(sa.Column(f"{column}_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("email_index", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_gdprchat_agents_email_index"),
                                           ["email_index"])


def downgrade() -> None:
    # As for 0003: sealed values cannot be opened here, and are lost by a downgrade.
    with op.batch_alter_table("gdprchat_agents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_gdprchat_agents_email_index"), type_="unique")
        batch_op.drop_column("email_index")
        for column in SEALED:
            batch_op.drop_column(f"{column}_sealed")
