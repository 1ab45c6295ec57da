"""Who a data subject is: the one rule that finds a subject's records.

A pre-chat form e-mail is typed, not verified, so every chat makes its own
contact; a subject (for export, erasure, restriction...) is every contact with
that e-mail address. Contacts of a host's signed-in user are found by the
host's ``external_id`` instead, and reused across chats.

Both are sealed (see :mod:`flask_gdprchat.core.sealing`), so contacts are found by
their keyed blind index, never by the plain value; a row stored before encryption,
not sealed yet, is found by its plain value too. A team member signing in is
found the same way, by the blind index of its own e-mail address.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select

from flask_gdprchat.core.models import Agent, Contact
from flask_gdprchat.core.sealing import blind_index
from flask_gdprchat.core.state import session
from flask_gdprchat.core.text import normalise_email

__all__ = ["agent_email_is", "contact_for_external_id", "contacts_for_email", "email_is",
           "external_id_is",
           "first_contact_id_for_email", "identity_is_restricted", "normalise_email"]


def email_is(email: str) -> Any:
    """The condition "this contact's e-mail address is ``email``" (any spelling)."""
    return or_(Contact.email_index == blind_index(email, "email"),
               and_(Contact.email_sealed.is_(None),
                    func.lower(Contact.email) == normalise_email(email)))


def agent_email_is(email: str) -> Any:
    """The condition "this team member signs in with ``email``" (any spelling)."""
    return or_(Agent.email_index == blind_index(email, "agent_email"),
               and_(Agent.email_sealed.is_(None),
                    func.lower(Agent.email) == normalise_email(email)))


def external_id_is(external_id: str) -> Any:
    """The condition "this contact is the host's user ``external_id``"."""
    value = str(external_id)
    return or_(Contact.external_id_index == blind_index(value, "external_id"),
               and_(Contact.external_id_sealed.is_(None), Contact.external_id == value))


def contacts_for_email(email: str) -> list[Contact]:
    """Every contact of the subject with this e-mail address."""
    if not email or not email.strip():
        return []
    return list(session().scalars(select(Contact).where(email_is(email)).order_by(Contact.id)))


def first_contact_id_for_email(email: str) -> int | None:
    """The oldest contact with this e-mail address, by id only (nothing is opened)."""
    if not email or not email.strip():
        return None
    found = session().scalar(select(Contact.id).where(email_is(email)).order_by(Contact.id)
                             .limit(1))
    return None if found is None else int(found)


def contact_for_external_id(external_id: str) -> Contact | None:
    """The contact of the host's signed-in user with this id, if any."""
    if external_id is None or str(external_id).strip() == "":
        return None
    return session().scalars(
        select(Contact).where(external_id_is(external_id)).order_by(Contact.id).limit(1)
    ).first()


def identity_is_restricted(email: str | None = None, external_id: str | None = None) -> bool:
    """True when a restricted subject has this e-mail or external id (no new chats)."""
    clauses = []
    if email and email.strip():
        clauses.append(email_is(email))
    if external_id:
        clauses.append(external_id_is(external_id))
    if not clauses:
        return False

    return bool(
        session().scalar(
            select(func.count())
            .select_from(Contact)
            .where(or_(*clauses), Contact.restricted_at.is_not(None))
        )
    )
