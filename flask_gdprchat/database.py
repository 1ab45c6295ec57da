"""Engine set-up, schema migrations and SQLite hygiene."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from .state import state

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Our own Alembic version table, so a host's own migrations never see ours.
VERSION_TABLE = "gdprchat_alembic_version"


def default_sqlite_uri(app: Flask) -> str:
    """The embedded default: a SQLite file in the app's instance folder."""
    os.makedirs(app.instance_path, exist_ok=True)
    return "sqlite:///" + os.path.join(app.instance_path, "gdprchat.sqlite3")


def configure_engine(engine: Engine, *, enforce_foreign_keys: bool) -> None:
    """Turn on WAL and secure delete for SQLite, so erased values are overwritten."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        if enforce_foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def init_db() -> str:
    """Create or upgrade the tables to the newest schema. Safe to run again.

    Returns the schema revision now in force.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = state.db.engine
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    with engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision() or ""


def scrub_free_space() -> None:
    """Make deleted values unrecoverable from the SQLite files.

    ``secure_delete`` zeroes freed pages in the main file; the WAL still holds the
    old page images until a checkpoint folds them in and truncates it.
    """
    engine = state.db.engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def database_files() -> list[Path]:
    """The SQLite files (main, WAL, journal) that hold our data; empty elsewhere."""
    engine = state.db.engine
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return []
    main = Path(engine.url.database)
    return [p for p in (main, Path(f"{main}-wal"), Path(f"{main}-journal")) if p.exists()]


def ping() -> None:
    """Raise if the database does not answer."""
    with state.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
