"""Proof that an erasure is complete: look for the subject everywhere we write.

Every text column of our tables is searched (the personal-data columns first,
then the rest, such as audit details, in case a value ever strayed there), case
insensitively; on SQLite the raw database files (main file, WAL, journal) are
searched byte for byte too, which finds values left in free pages or in the WAL.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import JSON, String, Text, cast, func, select

from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.models import Base
from flask_gdprchat.core.personal_data import personal_columns
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import normalise_email

#: Bytes read at a time from a database file.
CHUNK = 1 << 20


def _text_columns() -> list[tuple[str, object]]:
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
        if not isinstance(column.type, (String, Text, JSON)):  # type: ignore[attr-defined]
            continue  # binary columns (photos) cannot hold an e-mail address as text
        as_text = cast(column, Text) if isinstance(column.type, JSON) else column  # type: ignore[attr-defined]
        hit = db.scalar(
            select(func.count()).select_from(column.table)  # type: ignore[attr-defined]
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


def traces_in_files(value: str) -> list[str]:
    """The SQLite files whose raw bytes hold ``value`` (empty on other databases)."""
    needle = value.encode("utf-8")
    return [str(path) for path in database_files() if file_contains(path, needle)]


def find_traces(email: str) -> list[str]:
    """Every place a trace of ``email`` remains: ``table.column`` names and file paths."""
    value = normalise_email(email)
    if not value:
        raise ValueError("give the e-mail address to look for")
    # Let SQLite fold the WAL into the main file first, so that a checkpoint the
    # erasure already did is not undone by pages a reader still pinned.
    session().commit()
    return traces_in_tables(value) + traces_in_files(value)


__all__ = ["find_traces", "traces_in_tables", "traces_in_files", "file_contains"]
