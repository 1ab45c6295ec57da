"""A small rate limiter kept in the database, so it holds across processes."""
from __future__ import annotations

import datetime as dt
import hashlib

from flask import current_app
from sqlalchemy import delete, func, select

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import Throttle
from flask_gdprchat.core.state import session


def _key(action: str, value: str) -> str:
    # Keyed by a hash: the table must not become a list of e-mail addresses.
    secret = str(current_app.secret_key).encode()
    return hashlib.sha256(secret + b"|" + action.encode() + b"|" + value.encode()).hexdigest()


def allow(action: str, value: str, *, limit: int, window: dt.timedelta) -> bool:
    """Record one attempt at ``action`` for ``value``; False once over ``limit`` per window.

    The caller commits the session.
    """
    key = _key(action, value.strip().lower())
    since = utcnow() - window
    db = session()
    db.execute(delete(Throttle).where(Throttle.key == key, Throttle.at < since))
    count = db.scalar(select(func.count()).select_from(Throttle).where(Throttle.key == key))
    if (count or 0) >= limit:
        return False
    db.add(Throttle(key=key))
    return True
