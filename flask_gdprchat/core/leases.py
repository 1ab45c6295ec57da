"""Leases in the database: which process runs a scheduled job right now.

Several processes (web workers, a foreground ``flask gdprchat scheduler``, other
machines) may all schedule the same jobs. Before running one, a process takes the
job's lease; only one holder can have it until it expires or is released, so the
same job never runs twice at once. A holder that dies simply lets its lease
expire, and another process takes over.

Taking a lease is one conditional statement that the database decides for
everyone: an ``UPDATE ... WHERE`` the lease is free, expired or already ours, and,
for a job never leased before, an ``INSERT ... ON CONFLICT DO NOTHING``. Two
processes racing get exactly one row changed between them. Every operation runs
in its own short transaction on its own connection, apart from the caller's
session, so a lease is visible to others at once and never rides along with the
job's own work.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any

from sqlalchemy import and_, or_, update

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import JobLease
from flask_gdprchat.core.state import state

#: How long a lease lasts unless renewed. Long jobs renew it between steps.
DEFAULT_TTL = dt.timedelta(minutes=10)


class LeaseLost(RuntimeError):
    """The lease expired and another process took it: stop the job's work."""


def new_holder_id() -> str:
    """A name for this process as a lease holder: host, process id, and a nonce.

    The nonce keeps two schedulers inside one process (an app made twice) apart.
    """
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _engine() -> Any:
    return state.db.engine


def _insert(engine: Any) -> Any:
    # Imported here, for the backend in use only: the PostgreSQL dialect pulls in
    # its drivers, which every `flask gdprchat` command on SQLite would pay for.
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(JobLease)
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(JobLease)
    raise RuntimeError(f"leases are not supported on {engine.dialect.name}")


def acquire(
    name: str, holder: str, *, ttl: dt.timedelta = DEFAULT_TTL, now: dt.datetime | None = None
) -> bool:
    """Take the lease ``name`` for ``holder`` until ``now + ttl``; True if taken.

    Succeeds when the lease is free, expired, or already held by ``holder``
    (which then extends it). Exactly one of several racing callers succeeds.
    """
    if ttl <= dt.timedelta(0):
        raise ValueError("a lease must last a positive time")
    now = now or utcnow()
    expires = now + ttl
    engine = _engine()
    with engine.begin() as connection:
        taken = connection.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    JobLease.holder.is_(None),
                    JobLease.holder == holder,
                    JobLease.expires_at.is_(None),
                    JobLease.expires_at <= now,
                ),
            )
            .values(holder=holder, expires_at=expires)
        ).rowcount
        if taken:
            return True
        # RETURNING says whether a row went in; some drivers report a row count
        # of one for a conflicting insert that did nothing.
        inserted = connection.execute(
            _insert(engine)
            .values(name=name, holder=holder, expires_at=expires)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(JobLease.name)
        ).first()
        return inserted is not None


def renew(
    name: str, holder: str, *, ttl: dt.timedelta = DEFAULT_TTL, now: dt.datetime | None = None
) -> bool:
    """Extend a lease ``holder`` still holds; False if it expired and was taken.

    A lease that expired but that nobody else took is still ours to extend.
    """
    now = now or utcnow()
    with _engine().begin() as connection:
        return bool(
            connection.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.holder == holder)
                .values(expires_at=now + ttl)
            ).rowcount
        )


def release(name: str, holder: str) -> bool:
    """Give the lease up so another process may run the job at once.

    Releasing a lease someone else now holds changes nothing and returns False.
    """
    with _engine().begin() as connection:
        return bool(
            connection.execute(
                update(JobLease)
                .where(and_(JobLease.name == name, JobLease.holder == holder))
                .values(holder=None, expires_at=None)
            ).rowcount
        )


def current_holder(name: str, *, now: dt.datetime | None = None) -> str | None:
    """Who holds the lease ``name`` now, or None when it is free or expired."""
    now = now or utcnow()
    with _engine().connect() as connection:
        row = connection.execute(
            JobLease.__table__.select().where(JobLease.name == name)
        ).first()
    if row is None or row.holder is None or row.expires_at is None or row.expires_at <= now:
        return None
    holder: str = row.holder
    return holder


__all__ = [
    "DEFAULT_TTL",
    "LeaseLost",
    "new_holder_id",
    "acquire",
    "renew",
    "release",
    "current_holder",
]
