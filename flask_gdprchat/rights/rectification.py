"""Rectification (Art. 16): correct name, e-mail, company and phone; old values do not survive."""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.database import scrub_free_space
from flask_gdprchat.core.deletion import mail_of_contacts
from flask_gdprchat.core.i18n import _, field_label
from flask_gdprchat.core.models import Contact, OutboundMail
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import normalise_email
from flask_gdprchat.core.text import is_storable_text
from flask_gdprchat.rights.requests import log_fulfilled
from flask_gdprchat.rights.subject import RightsError, _app, ref_of

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
PHONE_RE = re.compile(r"^[0-9+()./\- ]{3,64}$")
#: Fields a subject or agent may correct, with their longest allowed value.
RECTIFIABLE = {"name": 255, "email": 320, "company": 255, "phone": 64}


def clean_rectification(form: Any) -> dict[str, str | None]:
    """The corrections in ``form`` (only fields present), checked; RightsError(422) if bad."""
    changes: dict[str, str | None] = {}
    for field_name, longest in RECTIFIABLE.items():
        if field_name not in form:
            continue
        raw = form.get(field_name)
        # null (or an empty field) clears a value; anything else must be text.
        if raw is not None and not isinstance(raw, str):
            raise RightsError(_("The %(field)s must be text.", field=field_label(field_name)), 422)
        value = (raw or "").strip()
        if len(value) > longest:
            raise RightsError(_("The %(field)s is too long (at most %(longest)s characters).",
                                field=field_label(field_name), longest=longest), 422)
        if not is_storable_text(value):
            raise RightsError(_(
                "The %(field)s contains control characters or text that cannot be stored.",
                field=field_label(field_name)), 422)
        if field_name == "email" and value:
            if not EMAIL_RE.match(value):
                raise RightsError(_("The e-mail address is not valid."), 422)
            value = normalise_email(value)
        if field_name == "phone" and value and not PHONE_RE.match(value):
            raise RightsError(_("The phone number may hold digits, spaces and + ( ) - . / only."),
                              422)
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
        raise RightsError(_("This data is restricted and cannot be edited. Lift the "
                            "restriction first."), 409)
    if "email" in changes and not changes["email"] and any(c.email for c in contacts):
        # The address is what finds the subject; removing it is erasure, not a correction.
        raise RightsError(_("The e-mail address cannot be emptied; erase the data instead."), 422)
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
