"""sealed values: personal data encrypted under each contact's own key

Revision ID: 0003_sealed_values
Revises: 0001
Create Date: 2026-12-02 10:00:00

Every sealed personal column gets its encrypted twin ``<name>_sealed``, and
contacts get keyed blind indexes of their e-mail and external id. Rows already
stored keep their plain values until ``flask gdprchat seal-existing`` (or the
purge job, a batch at a time) seals them: encrypting needs the key store, which
a schema migration does not open.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sealed_values"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The sealed columns of each table (their twins are added here).
SEALED = {
    "gdprchat_contacts": ("external_id", "name", "email", "company", "phone", "ip_address"),
    "gdprchat_consents": ("ip_address", "user_agent"),
    "gdprchat_messages": ("text",),
    "gdprchat_message_edits": ("previous_text",),
    "gdprchat_outbox": ("to_address", "subject", "body_text", "body_html", "headers"),
}
BLIND_INDEXES = ("email_index", "external_id_index")


def upgrade() -> None:
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.add_column(sa.Column(f"{column}_sealed", sa.LargeBinary(), nullable=True))
            if table == "gdprchat_contacts":
                for index in BLIND_INDEXES:
                    batch_op.add_column(sa.Column(index, sa.String(length=64), nullable=True))
                    batch_op.create_index(batch_op.f(f"ix_gdprchat_contacts_{index}"), [index],
                                          unique=False)


def downgrade() -> None:
    # Sealed values cannot be opened here (the key store is not at hand): downgrading
    # a database that holds any loses them. Seal nothing new first, or restore a backup.
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "gdprchat_contacts":
                for index in BLIND_INDEXES:
                    batch_op.drop_index(batch_op.f(f"ix_gdprchat_contacts_{index}"))
                    batch_op.drop_column(index)
            for column in columns:
                batch_op.drop_column(f"{column}_sealed")
