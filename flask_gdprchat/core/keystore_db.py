"""The key store's schema and engine: its own database, its own four tables.

The tables carry the ``gdprchat_keys_`` prefix and live on a metadata of their own,
made on first use (:meth:`flask_gdprchat.core.keystore.KeyStore`); neither the
chat's Alembic environment nor a host's ever sees them, since they are in another
database.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    tuple_,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url

#: The key store's own schema version (the row in ``gdprchat_keys_state``).
SCHEMA_VERSION = 1
#: The default key store: a SQLite file in the instance folder, beside (not in) the data.
DEFAULT_FILE = "gdprchat-keys.sqlite3"
#: Keys read per batch while a rotation walks the store.
ROTATE_BATCH = 500
#: PostgreSQL advisory lock taken while the schema is made (the migrations' is 7413002).
SCHEMA_LOCK = 7413003

metadata = MetaData()

#: One row: the schema version, the master key every key is wrapped under now, and a
#: counter raised by each destroy (what caches compare).
state_table = Table(
    "gdprchat_keys_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("schema_version", Integer, nullable=False),
    Column("master_key_id", String(32), nullable=False),
    Column("destroy_generation", BigInteger, nullable=False),
)
subject_keys = Table(
    "gdprchat_keys_subject_keys", metadata,
    Column("subject_kind", String(16), primary_key=True),
    Column("subject_id", BigInteger, primary_key=True, autoincrement=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
)
#: Subjects whose key was destroyed. The id gets a key again only as another subject,
#: made after the destruction (an id counted again, see KeyStore.data_key).
tombstones = Table(
    "gdprchat_keys_tombstones", metadata,
    Column("subject_kind", String(16), primary_key=True),
    Column("subject_id", BigInteger, primary_key=True, autoincrement=False),
    Column("destroyed_at", DateTime, nullable=False),
)
#: Keys of the whole site (the blind-index key), wrapped like the others.
site_keys = Table(
    "gdprchat_keys_site_keys", metadata,
    Column("name", String(32), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def default_keystore_uri(app: Flask) -> str:
    """The embedded default: ``gdprchat-keys.sqlite3`` in the app's instance folder."""
    os.makedirs(app.instance_path, exist_ok=True)
    return "sqlite:///" + os.path.join(app.instance_path, DEFAULT_FILE)


def same_database(a: URL, b: URL) -> bool:
    """Whether two URLs name one database (one SQLite file, or one server's database)."""
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        if not a.database or not b.database or ":memory:" in (a.database, b.database):
            return False
        return os.path.realpath(a.database) == os.path.realpath(b.database)
    return (a.host or "localhost", a.port, a.database) == (b.host or "localhost", b.port, b.database)


def make_engine(uri: str) -> Engine:
    """The key store's own engine; on SQLite with secure delete, WAL and real transactions.

    A connection whose execution options say ``gdprchat_write`` begins with
    ``BEGIN IMMEDIATE``; ``gdprchat_no_begin`` runs outside any transaction.
    """
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We open transactions ourselves (below), as SQLAlchemy's SQLite notes
        # advise: then DDL is transactional and a write locks from its BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that every statement below waits out another process's lock.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA secure_delete=ON")  # destroyed keys are zeroed in the file
        if url.database and url.database != ":memory:":
            # Switching needs the file to itself; once it is WAL (the file remembers),
            # processes connecting together must not fight over it again.
            _use_wal(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write takes the lock at once, so its reads and writes see one state.
        options = conn.get_execution_options()
        if not options.get("gdprchat_no_begin"):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("gdprchat_write") else "BEGIN")

    return engine


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    """Put the key store's file in WAL mode, once, whoever connects first.

    The switch needs the file to itself and SQLite does not wait for that (it
    fails with "database is locked" at once); two processes opening a new store
    together retry until one of them has made it WAL.
    """
    for _ in range(attempts):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")  # the last try raises what it raises


def all_subject_keys(conn: Connection) -> Iterator[tuple[str, int, bytes, str]]:
    """Every subject key, a batch at a time in key order (the table may be large)."""
    after: tuple[str, int] | None = None
    while True:
        query = select(subject_keys.c.subject_kind, subject_keys.c.subject_id,
                       subject_keys.c.wrapped_key, subject_keys.c.master_key_id)
        if after is not None:
            query = query.where(tuple_(subject_keys.c.subject_kind, subject_keys.c.subject_id)
                                > tuple_(*after))
        rows = conn.execute(query.order_by(subject_keys.c.subject_kind, subject_keys.c.subject_id)
                            .limit(ROTATE_BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield row[0], row[1], row[2], row[3]
        after = (rows[-1][0], rows[-1][1])
