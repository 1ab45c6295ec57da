"""Alembic environment for flask-gdprchat's own tables.

Run by ``flask gdprchat init-db`` with the connection handed in; it keeps its
revision in ``gdprchat_alembic_version`` and touches only ``gdprchat_*`` tables.
"""
from __future__ import annotations

from alembic import context

from flask_gdprchat.core.database import VERSION_TABLE
from flask_gdprchat.core.models import Base


def _include_object(obj: object, name: str | None, type_: str, reflected: bool,
                    compare_to: object) -> bool:
    if type_ == "table":
        return name is not None and name.startswith("gdprchat_") and name != VERSION_TABLE
    return True


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_object=_include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
