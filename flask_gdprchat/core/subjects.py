"""Who a data subject is: the one rule that finds a subject's records.

A pre-chat form e-mail is typed, not verified, so every chat makes its own
contact; a subject (for export, erasure, restriction...) is every contact with
that e-mail address. Contacts of a host's signed-in user are found by the
host's ``external_id`` instead, and reused across chats.
"""
from __future__ import annotations

from sqlalchemy import func, select

from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.state import session


def normalise_email(email: str) -> str:
    """E-mail addresses are stored and compared trimmed and in lower case."""
    return email.strip().lower()


def contacts_for_email(email: str) -> list[Contact]:
    """Every contact of the subject with this e-mail address."""
    if not email or not email.strip():
        return []
    wanted = normalise_email(email)
    return list(
        session().scalars(
            select(Contact).where(func.lower(Contact.email) == wanted).order_by(Contact.id)
        )
    )


def contact_for_external_id(external_id: str) -> Contact | None:
    """The contact of the host's signed-in user with this id, if any."""
    return session().scalars(
        select(Contact).where(Contact.external_id == str(external_id)).limit(1)
    ).first()


def identity_is_restricted(email: str | None = None, external_id: str | None = None) -> bool:
    """True when a restricted subject has this e-mail or external id (no new chats)."""
    clauses = []
    if email and email.strip():
        clauses.append(func.lower(Contact.email) == normalise_email(email))
    if external_id:
        clauses.append(Contact.external_id == str(external_id))
    if not clauses:
        return False
    from sqlalchemy import or_

    return bool(
        session().scalar(
            select(func.count())
            .select_from(Contact)
            .where(or_(*clauses), Contact.restricted_at.is_not(None))
        )
    )
