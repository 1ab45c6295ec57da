"""consent locale: the language a consent wording was shown in

Revision ID: 0002_consent_locale
Revises: 0001
Create Date: 2026-12-02 12:00:00

Consent records keep the language of the wording the visitor accepted, so the
proof says what was read, in which language. Records made before hold None.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_consent_locale"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gdprchat_consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gdprchat_consents", schema=None) as batch_op:
        batch_op.drop_column("locale")
