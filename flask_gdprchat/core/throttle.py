"""A small rate limiter kept in the database, so it holds across processes."""
from __future__ import annotations

import datetime as dt
import hashlib

from flask import current_app
from sqlalchemy import delete, func, select, text

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import Throttle
from flask_gdprchat.core.state import session


def _key(action: str, value: str) -> str:
    # Keyed by a hash: the table must not become a list of e-mail addresses.
    secret = str(current_app.secret_key).encode()
    return hashlib.sha256(secret + b"|" + action.encode() + b"|" + value.encode()).hexdigest()


def _serialise(key: str) -> None:
    # Parallel requests must not all read "under the limit" before any of them
    # writes: on PostgreSQL a transaction lock on the key makes them take turns
    # (SQLite already does, as the DELETE below takes its write lock).
    db = session()
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def count(action: str, value: str, *, window: dt.timedelta) -> int:
    """How many times ``action`` was recorded for ``value`` within ``window``."""
    key = _key(action, value.strip().lower())
    _serialise(key)
    db = session()
    db.execute(delete(Throttle).where(Throttle.key == key, Throttle.at < utcnow() - window))
    found = db.scalar(select(func.count()).select_from(Throttle).where(Throttle.key == key))
    return int(found or 0)


def record(action: str, value: str) -> None:
    """Count one more ``action`` for ``value`` (the caller commits)."""
    session().add(Throttle(key=_key(action, value.strip().lower())))


def allow(action: str, value: str, *, limit: int, window: dt.timedelta) -> bool:
    """Record one attempt at ``action`` for ``value``; False once over ``limit`` per window.

    The caller commits the session.
    """
    if count(action, value, window=window) >= limit:
        return False
    record(action, value)
    return True
