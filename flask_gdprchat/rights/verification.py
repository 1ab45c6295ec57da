"""Proof that an erasure is complete: the one definition of "a trace of this subject".

A trace is the subject's e-mail address, case insensitively, in any text column
of the chat's own tables (the personal-data declaration first, then the rest,
such as audit details, in case a value ever strayed there). On SQLite, when the
chat owns the database file, the raw bytes of the file, its WAL and journal are
searched too, after a checkpoint, which finds values left in free pages. When
the file is the host's, its bytes hold the host's own rows (a customer with the
same address who never chatted), so only the chat's tables are searched there,
exactly as on PostgreSQL.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, String, Text, cast, func, select

from flask_gdprchat.core import audit, sealing
from flask_gdprchat.core.database import database_files, scrub_free_space
from flask_gdprchat.core.models import AuditEvent, Base, Contact
from flask_gdprchat.core.personal_data import personal_columns
from flask_gdprchat.core.sealing import blind_index
from flask_gdprchat.core.state import session, state
from flask_gdprchat.core.subjects import normalise_email

#: Bytes read at a time from a database file.
CHUNK = 1 << 20
#: The loosest shape of an address: every form that stores one (pre-chat form,
#: host callback, rectification) accepts less, so no held subject is refused.
ADDRESS_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _text_columns() -> list[tuple[str, Column[Any]]]:
    personal = [(pc.where, pc.column) for pc in personal_columns()]
    seen = {where for where, _ in personal}
    others = [
        (f"{table.name}.{column.name}", column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, (String, Text, JSON)) and f"{table.name}.{column.name}" not in seen
    ]
    return personal + others


def traces_in_tables(value: str) -> list[str]:
    """``table.column`` of every column holding ``value`` (case-insensitively)."""
    db = session()
    found = []
    for where, column in _text_columns():
        if not isinstance(column.type, (String, Text, JSON)):
            continue  # binary columns (photos) cannot hold an e-mail address as text
        as_text = cast(column, Text) if isinstance(column.type, JSON) else column
        hit = db.scalar(
            select(func.count()).select_from(column.table)
            .where(func.lower(as_text).contains(value, autoescape=True))
        )
        if hit:
            found.append(where)
    return found


def file_contains(path: Path, needle: bytes) -> bool:
    """Whether ``needle`` (lower case) occurs in the file, ignoring ASCII case."""
    overlap = max(len(needle) - 1, 0)
    tail = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return False
            window = (tail + chunk).lower()
            if needle in window:
                return True
            tail = window[-overlap:] if overlap else b""


def scans_files() -> bool:
    """Whether raw database files are part of the search: SQLite files the chat owns."""
    return state.owns_db and bool(database_files())


def searched_places() -> str:
    """Where :func:`find_traces` looks, in words, for the command's report."""
    if scans_files():
        return "the chat's tables and the database files"
    if database_files():
        return "the chat's tables (the database file is the app's own, so its raw bytes are not searched)"
    return "the chat's tables"


def traces_in_files(value: str) -> list[str]:
    """The chat's own SQLite files whose raw bytes hold ``value`` (else empty)."""
    if not scans_files():
        return []
    needle = value.encode("utf-8")
    return [str(path) for path in database_files() if file_contains(path, needle)]


def check_email(email: str) -> str:
    """The address, trimmed and in lower case; ValueError if it is not an e-mail address."""
    value = normalise_email(email or "")
    if len(value) > 320 or not ADDRESS_RE.match(value):
        raise ValueError("give an e-mail address to look for, such as ann@example.com")
    return value


def find_traces(email: str) -> list[str]:
    """Every place a trace of ``email`` remains: ``table.column`` names and file paths."""
    value = check_email(email)
    # End our read transaction, then fold the WAL into the main file and truncate
    # it: pages an erasure left in the WAL (its own checkpoint may have been held
    # back by a reader) are then judged by what the database really keeps.
    session().commit()
    if scans_files():
        scrub_free_space()
    return (traces_by_index(value) + traces_in_tables(value) + traces_in_files(value)
            + traces_in_keystore(value))


def traces_by_index(value: str) -> list[str]:
    """Sealed traces: contacts found by the address's blind index (their values are
    encrypted, so the plain search cannot see them)."""
    ids = session().scalars(
        select(Contact.id).where(Contact.email_index == blind_index(value, "email"))
    ).all()
    return [f"gdprchat_contacts.email_index (contact {i}, sealed)" for i in ids]


def traces_in_keystore(value: str) -> list[str]:
    """Data keys still alive of contacts this address was erased as (the audit log
    names the contacts of each erasure, by number only)."""
    ref = audit.subject_ref(value)
    erased: set[int] = set()
    for details in session().scalars(
        select(AuditEvent.details).where(AuditEvent.event == "subject_erased",
                                         AuditEvent.subject_ref == ref)
    ):
        erased.update(i for i in (details or {}).get("contact_ids", []) if isinstance(i, int))
    return [f"key store: the data key of contact {i}" for i in sorted(erased)
            if sealing.existing_contact_key(i) is not None]


__all__ = [
    "check_email",
    "file_contains",
    "find_traces",
    "scans_files",
    "searched_places",
    "traces_by_index",
    "traces_in_files",
    "traces_in_keystore",
    "traces_in_tables",
]
