"""Keep the chat's tables out of the host's own migrations.

The chat's tables live on their own metadata and are versioned by their own
Alembic environment. A host's autogenerate compares *its* metadata with the
database, so without a filter it would plan ``drop_table`` for every chat table.
Flask-Migrate hands the keyword arguments in ``app.extensions["migrate"]
.configure_args`` to ``context.configure()`` in the host's ``env.py``; we chain
our ``include_name``/``include_object`` filters in there. Its ``configure``
callbacks only see the Alembic ``Config``, which cannot carry these filters.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, appcontext_pushed

from flask_gdprchat.core.database import VERSION_TABLE
from flask_gdprchat.core.models import Base

#: Every table of the chat carries this prefix.
TABLE_PREFIX = "gdprchat_"

#: Marks a filter already chained, so it is never wrapped twice.
_MARK = "__gdprchat_filter__"

Filter = Callable[..., bool]


def is_chat_table(name: str | None) -> bool:
    """Whether ``name`` is one of the chat's tables or its Alembic version table."""
    if not name:
        return False
    return name.startswith(TABLE_PREFIX) or name == VERSION_TABLE or name in Base.metadata.tables


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic ``include_name`` hook: leave the chat's tables out of reflection."""
    if type_ == "table":
        return not is_chat_table(name)
    return not is_chat_table(parent_names.get("table_name"))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object`` hook: leave the chat's tables out of comparison."""
    if type_ == "table":
        return not is_chat_table(name)
    table = getattr(obj, "table", None)
    return not is_chat_table(getattr(table, "name", None))


def _chained(ours: Filter, theirs: Filter | None) -> Filter:
    if theirs is not None and getattr(theirs, _MARK, False):
        return theirs  # already chained (the hook runs at every app context)

    def combined(*args: Any, **kwargs: Any) -> bool:
        return ours(*args, **kwargs) and (theirs is None or bool(theirs(*args, **kwargs)))

    setattr(combined, _MARK, True)
    return combined


def exclude_from_flask_migrate(app: Flask) -> bool:
    """Chain our filters into the app's Flask-Migrate options; False if it has none."""
    migrate = app.extensions.get("migrate")
    options = getattr(migrate, "configure_args", None)
    if not isinstance(options, dict):
        return False
    options["include_name"] = _chained(include_name, options.get("include_name"))
    options["include_object"] = _chained(include_object, options.get("include_object"))
    return True


def _on_app_context(app: Flask, **_extra: Any) -> None:
    exclude_from_flask_migrate(app)


def keep_out_of_host_migrations(app: Flask) -> None:
    """Make the host's autogenerate see nothing to do for the chat's tables.

    Applied now if the app already has Flask-Migrate, and again each time an app
    context is pushed (``flask db`` pushes one), so ``Migrate(app, db)`` may come
    before or after the chat. Chaining is idempotent and keeps the host's filters.
    """
    exclude_from_flask_migrate(app)
    appcontext_pushed.connect(_on_app_context, app)


__all__ = [
    "TABLE_PREFIX",
    "exclude_from_flask_migrate",
    "include_name",
    "include_object",
    "is_chat_table",
    "keep_out_of_host_migrations",
]
