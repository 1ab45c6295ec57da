"""The append-only, hash-chained audit log (Art. 5(2) accountability).

Each event stores a SHA-256 over its own content and the previous event's hash,
so that altering, removing or reordering any event breaks the chain from there
on. Events never hold personal data: a subject appears only as a keyed hash
(:func:`subject_ref`), which survives the subject's erasure and lets an erasure be
replayed after a backup is restored.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import AuditEvent
from flask_gdprchat.core.state import session

GENESIS = "0" * 64


def subject_ref(email_or_id: str | int) -> str:
    """A keyed hash naming a subject without revealing it."""
    key = hashlib.sha256(b"gdprchat-subject-ref|" + str(current_app.secret_key).encode()).digest()
    value = str(email_or_id).strip().lower().encode("utf-8")
    return hmac.new(key, value, hashlib.sha256).hexdigest()


def ref_for_contact(contact: Any) -> str:
    """The subject reference of a contact: by e-mail when known, else by id."""
    return subject_ref(contact.email or f"contact:{contact.id}")


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": event.created_at.isoformat(timespec="microseconds"),
            "event": event.event,
            "subject_ref": event.subject_ref,
            "actor": event.actor,
            "details": event.details or {},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _last_hash() -> str:
    last = session().scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def record(
    event: str,
    *,
    subject: str | int | None = None,
    ref: str | None = None,
    actor: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an event in the caller's transaction (the caller commits).

    ``subject`` is turned into a keyed hash here; ``ref`` passes one already made.
    ``details`` must be counts, names of fields, versions: never personal values.
    """
    db = session()
    if db.get_bind().dialect.name == "postgresql":
        # Serialise appenders so two processes never chain onto the same event.
        db.execute(text("SELECT pg_advisory_xact_lock(7413001)"))
    entry = AuditEvent(
        created_at=utcnow(),
        event=event,
        subject_ref=ref if ref is not None else (subject_ref(subject) if subject is not None else None),
        actor=actor,
        details=details,
    )
    for _attempt in range(5):
        entry.prev_hash = _last_hash()
        entry.hash = _digest(entry.prev_hash, entry)
        try:
            with db.begin_nested():
                db.add(entry)
            return entry
        except IntegrityError:
            continue
    raise RuntimeError("could not append to the audit log")


@dataclass
class ChainReport:
    """The result of :func:`verify_chain`."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(batch: int = 1000) -> ChainReport:
    """Walk the whole log and report the first event whose link does not hold."""
    db = session()
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = db.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for event in rows:
            if event.prev_hash != prev:
                return ChainReport(False, checked, event.id, "does not follow the event before it")
            if event.hash != _digest(prev, event):
                return ChainReport(False, checked, event.id, "content does not match its hash")
            prev = event.hash
            checked += 1
            last_id = event.id
