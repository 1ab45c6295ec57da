"""The declaration of personal data, walked by export, erasure and verification.

A column is personal when made with :func:`flask_gdprchat.core.models.personal`; this
module finds every such column, so no feature keeps its own list of columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from flask_gdprchat.core.models import Base


@dataclass(frozen=True)
class PersonalColumn:
    """One column holding personal data, and whose data it is."""

    table: Table
    column: Column[Any]
    subject: str  # "contact" or "agent"
    kept_on_delete: bool = False

    @property
    def where(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def personal_columns(subject: str | None = None) -> list[PersonalColumn]:
    """Every personal-data column of our tables, optionally of one kind of subject."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.info.get("personal")
            if kind and (subject is None or kind == subject):
                found.append(
                    PersonalColumn(table, column, kind, bool(column.info.get("kept_on_delete")))
                )
    return found
