"""A data subject as the rights see it, and how a refused request is reported.

Each right works on a *subject*: every contact with one e-mail address (an
anonymous contact is a subject of its own). Each records the request and its
fulfilment in the tracker and the audit log (keyed hashes, field names and
counts only), commits, and then does what must follow a commit. HTTP views, the
CLI and the Python API all call the rights, so each rule is decided once.
"""
from __future__ import annotations

from typing import Any

from flask import current_app

from flask_gdprchat.core import audit
from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.subjects import contacts_for_email


class RightsError(ValueError):
    """A request that cannot be carried out; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _app() -> Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def subject_of(contact: Contact) -> list[Contact]:
    """Every contact of the subject ``contact`` belongs to (by e-mail, else itself)."""
    if contact.email:
        return contacts_for_email(contact.email) or [contact]
    return [contact]


def ref_of(contacts: list[Contact]) -> str:
    """The audit reference of a subject."""
    return audit.ref_for_contact(contacts[0])
