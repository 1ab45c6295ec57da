"""The data-subject rights that change data: erasure, restriction, rectification.

Each function works on a *subject* (every contact with one e-mail address; an
anonymous contact is a subject of its own), records the request and its
fulfilment in the tracker and the audit log (keyed hashes, field names and
counts only), commits, and then does what must follow a commit: scrub the
SQLite files, close sockets, send signals. HTTP views, the CLI and the Python
API all call these, so each rule is decided here once.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Iterable

from flask import current_app
from sqlalchemy import select

from . import audit, realtime, signals
from .api_schemas import is_storable_text
from .clock import utcnow
from .config import setting
from .database import scrub_free_space
from .deletion import Removed, delete_contacts, mail_of_contacts
from .models import Contact, Conversation, OutboundMail
from .objection import unsubscribe_contact
from .state import session
from .subject_requests import fulfil, log_fulfilled, open_request
from .subjects import contacts_for_email, normalise_email

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
PHONE_RE = re.compile(r"^[0-9+()./\- ]{3,64}$")
#: Fields a subject or agent may correct, with their longest allowed value.
RECTIFIABLE = {"name": 255, "email": 320, "company": 255, "phone": 64}


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


# -- erasure (Art. 17) -----------------------------------------------------------------


def erase_contacts(contacts: list[Contact], *, channel: str, actor: str | None = None) -> Removed:
    """Erase these contacts and everything held about them, at once and for good.

    One transaction removes contacts, conversations, messages, consent records
    and pending mail; the request and the fulfilment are kept as PII-free proof.
    Afterwards the SQLite files are scrubbed and open sockets told and closed.
    """
    db = session()
    ref = ref_of(contacts)
    ids = [c.id for c in contacts]
    conversation_ids = list(
        db.scalars(select(Conversation.id).where(Conversation.contact_id.in_(ids)))
    )
    sids = realtime.visitor_sids(conversation_ids)
    request = open_request("erase", ref=ref, channel=channel)
    audit.record("erasure_requested", ref=ref, actor=actor or channel)
    try:
        removed = delete_contacts(ids)
        fulfil(request)
        audit.record("subject_erased", ref=ref, actor=actor or channel, counts=dict(removed.counts))
        db.commit()
    except Exception:
        db.rollback()
        raise
    scrub_free_space()
    realtime.end_conversations(conversation_ids)
    realtime.close_sockets(sids)
    signals.subject_erased.send(_app(), subject_ref=ref, counts=dict(removed.counts),
                                channel=channel)
    return removed


def erase_by_email(email: str, channel: str) -> bool:
    """Erase the subject with ``email``. False (and nothing logged) if nothing is held."""
    contacts = contacts_for_email(email)
    if not contacts:
        return False
    erase_contacts(contacts, channel=channel)
    return True


# -- restriction (Art. 18) -------------------------------------------------------------


def grace_ends_at(contacts: Iterable[Contact]) -> dt.datetime | None:
    """When the restriction of these contacts can no longer be lifted (None if none)."""
    started = [c.restricted_at for c in contacts if c.restricted_at is not None]
    if not started:
        return None
    return min(started) + dt.timedelta(days=setting("RESTRICTED_GRACE_DAYS"))


def set_restriction(contacts: list[Contact], restricted: bool, *, channel: str,
                    actor: str | None = None) -> bool:
    """Restrict (or lift the restriction of) a subject; False if nothing changed.

    Lifting after the grace period raises :class:`RightsError`: the data is then
    due for purging and is no longer restored.
    """
    now = utcnow()
    if restricted:
        targets = [c for c in contacts if c.restricted_at is None]
    else:
        targets = [c for c in contacts if c.restricted_at is not None]
        ends = grace_ends_at(targets)
        if ends is not None and now > ends:
            raise RightsError(
                "The restriction can no longer be lifted: its grace period ended on "
                f"{ends:%Y-%m-%d}, and the data is due to be deleted."
            )
    if not targets:
        return False
    ref = ref_of(contacts)
    for contact in targets:
        contact.restricted_at = now if restricted else None
    kind = "restrict" if restricted else "unrestrict"
    log_fulfilled(kind, ref=ref, channel=channel)
    audit.record("subject_restricted" if restricted else "restriction_lifted", ref=ref,
                 actor=actor or channel, contacts=len(targets))
    session().commit()
    for contact in targets:
        signals.subject_restricted.send(_app(), contact_id=contact.id, restricted=restricted)
    return True


def restrict_by_email(email: str, restricted: bool, channel: str) -> bool:
    """Restrict or lift the restriction of the subject with ``email``.

    Returns False when nothing is held (or nothing was to change).
    """
    contacts = contacts_for_email(email)
    if not contacts:
        return False
    return set_restriction(contacts, restricted, channel=channel)


# -- rectification (Art. 16) -----------------------------------------------------------


def clean_rectification(form: Any) -> dict[str, str | None]:
    """The corrections in ``form`` (only fields present), checked; RightsError(422) if bad."""
    changes: dict[str, str | None] = {}
    for field_name, longest in RECTIFIABLE.items():
        if field_name not in form:
            continue
        raw = form.get(field_name)
        # null (or an empty field) clears a value; anything else must be text.
        if raw is not None and not isinstance(raw, str):
            raise RightsError(f"The {field_name} must be text.", 422)
        value = (raw or "").strip()
        if len(value) > longest:
            raise RightsError(f"The {field_name} is too long (at most {longest} characters).", 422)
        if not is_storable_text(value):
            raise RightsError(
                f"The {field_name} contains control characters or text that cannot be stored.", 422
            )
        if field_name == "email" and value:
            if not EMAIL_RE.match(value):
                raise RightsError("The e-mail address is not valid.", 422)
            value = normalise_email(value)
        if field_name == "phone" and value and not PHONE_RE.match(value):
            raise RightsError("The phone number may hold digits, spaces and + ( ) - . / only.", 422)
        changes[field_name] = value or None
    return changes


def _forget_in_outbox(contact_ids: list[int], old_values: set[str], new_email: str | None) -> None:
    """Pending mail of the subject must not keep a corrected value either.

    Mail that quotes an old value (a transcript names the visitor) is withdrawn:
    it was written for details that are no longer true. The rest is readdressed
    when the e-mail changed. Called before the contacts change, so the mail that
    goes with them is found by the same rule as on erasure.
    """
    if not old_values:
        return
    db = session()
    for mail in db.scalars(select(OutboundMail).where(mail_of_contacts(contact_ids))):
        content = " ".join([mail.subject or "", mail.body_text or "", mail.body_html or "",
                            json.dumps(mail.headers or {}, ensure_ascii=False)]).lower()
        if any(value in content for value in old_values):
            db.delete(mail)
        elif new_email and (mail.to_address or "").lower() in old_values:
            mail.to_address = new_email


def rectify(contacts: list[Contact], changes: dict[str, str | None], *, channel: str,
            actor: str | None = None) -> list[str]:
    """Correct a subject's details; returns the names of the fields that changed.

    Refused for a restricted subject (Art. 18: no edits). A new e-mail bumps
    ``link_epoch``, so every privacy link issued before dies. Pending mail
    quoting an old value is withdrawn, the rest readdressed. After the commit the
    SQLite files are scrubbed so the old values cannot be read back from them.
    """
    if any(c.restricted_at is not None for c in contacts):
        raise RightsError("This data is restricted and cannot be edited. Lift the "
                          "restriction first.", 409)
    if "email" in changes and not changes["email"] and any(c.email for c in contacts):
        # The address is what finds the subject; removing it is erasure, not a correction.
        raise RightsError("The e-mail address cannot be emptied; erase the data instead.", 422)
    changed = sorted({
        name for name, value in changes.items() for c in contacts if getattr(c, name) != value
    })
    if not changed:
        return []
    db = session()
    ids = [c.id for c in contacts]
    old_values = {
        str(getattr(c, name)).lower() for c in contacts for name in changed if getattr(c, name)
    }
    _forget_in_outbox(ids, old_values, changes.get("email") if "email" in changed else None)
    for contact in contacts:
        for name in changed:
            setattr(contact, name, changes[name])
        if "email" in changed:
            contact.link_epoch = (contact.link_epoch or 0) + 1
    ref = ref_of(contacts)
    log_fulfilled("rectify", ref=ref, channel=channel)
    audit.record("subject_rectified", ref=ref, actor=actor or channel, fields=changed)
    db.commit()
    scrub_free_space()
    for contact in contacts:
        signals.subject_rectified.send(_app(), contact_id=contact.id, fields=changed)
    return changed


# -- objection (Art. 21) ---------------------------------------------------------------


def unsubscribe(contacts: list[Contact], *, channel: str) -> bool:
    """Stop every campaign to the subject; False if all were unsubscribed already."""
    changed = [unsubscribe_contact(c, channel=channel) for c in contacts]
    session().commit()
    return any(changed)


__all__ = [
    "RightsError",
    "subject_of",
    "erase_contacts",
    "erase_by_email",
    "grace_ends_at",
    "set_restriction",
    "restrict_by_email",
    "clean_rectification",
    "rectify",
    "unsubscribe",
]
