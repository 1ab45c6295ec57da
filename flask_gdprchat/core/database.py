"""Engine set-up, schema migrations and SQLite hygiene."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from flask_gdprchat.core.state import state

log = logging.getLogger("flask_gdprchat")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Our own Alembic version table, so a host's own migrations never see ours.
VERSION_TABLE = "gdprchat_alembic_version"


def default_sqlite_uri(app: Flask) -> str:
    """The embedded default: a SQLite file in the app's instance folder."""
    os.makedirs(app.instance_path, exist_ok=True)
    return "sqlite:///" + os.path.join(app.instance_path, "gdprchat.sqlite3")


def configure_engine(engine: Engine, *, owns_db: bool) -> None:
    """Set up SQLite connections: secure delete always, the rest only on our own file.

    ``secure_delete`` is per connection and changes nothing in the file's format;
    it is what makes erased values unrecoverable, so the host's connections get
    it too (its deletes then overwrite freed space, a little more writing). On a
    database the host owns, nothing persistent changes: not the journal mode
    (WAL is a setting of the file and leaves ``-wal``/``-shm`` beside it), nor
    foreign keys or the busy timeout, which the host's code may count on.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        if owns_db:
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _migration_lock(engine: Engine, lock_dir: str) -> Iterator[None]:
    """One process migrates at a time: several workers may start together.

    On SQLite the lock is a file in ``lock_dir`` (the instance folder), never
    beside a database file that may be the host's.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_advisory_lock(7413002)")
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(7413002)")
                connection.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        try:
            import fcntl
        except ImportError:  # not POSIX: SQLite's own locking has to do
            yield
            return
        os.makedirs(lock_dir, exist_ok=True)
        with open(os.path.join(lock_dir, "gdprchat-migrate.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


def init_db() -> str:
    """Create or upgrade the tables to the newest schema. Safe to run again.

    Returns the schema revisions now in force. Features add their revisions as
    branches off the one they need, so every head is applied ("heads").
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = state.db.engine
    with _migration_lock(engine, current_app.instance_path), engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "heads")
    with engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return ", ".join(sorted(ctx.get_current_heads()))


def script_heads() -> set[str] | None:
    """The newest revisions among the chat's migration files, read as text (alembic
    is not imported); None when a file does not state its revisions plainly."""
    import ast

    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id in ("revision", "down_revision")):
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
        if path.name == "__init__.py" and not values:
            continue
        if not isinstance(values.get("revision"), str):
            return None
        revisions.add(values["revision"])
        down = values.get("down_revision")
        parents.update([down] if isinstance(down, str) else (down or ()))
    return revisions - parents


def schema_is_current(engine: Engine) -> bool:
    """True when the database records exactly the newest revisions: nothing to do."""
    heads = script_heads()
    if not heads:
        return False
    try:
        with engine.connect() as connection:
            found = {row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}
    except SQLAlchemyError:  # no table yet, or no database: init_db decides and says
        return False
    return found == heads


def migrate_on_start(app: Flask) -> None:
    """Bring the schema up to date as the app starts (``GDPRCHAT_AUTO_MIGRATE``).

    A database that cannot be reached yet is not fatal here: the app starts, and
    requests answer "unavailable" until it is back or ``init-db`` has run.
    """
    with app.app_context():
        if schema_is_current(state.db.engine):
            return  # the usual start: no need to load alembic (a fifth of a CLI start-up)
        try:
            init_db()
        except OperationalError as exc:
            log.warning(
                "could not prepare the chat's tables at start-up (%s); "
                "run 'flask gdprchat init-db' once the database is reachable",
                type(exc).__name__,
            )


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
