"""The right to object (Art. 21): unsubscribing stops every campaign at once."""
from __future__ import annotations

from flask import current_app

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email
from flask_gdprchat.rights.requests import log_fulfilled


def unsubscribe_contact(contact: Contact, *, channel: str) -> bool:
    """Stop all manual and automatic campaigns, e-mail and chat, for the subject
    ``contact`` belongs to: every contact with its e-mail address (an unsubscribe
    link names one contact, but a visitor who chatted twice has two).

    Withdraws the marketing consent records too. Returns False when the subject
    was already unsubscribed. The caller commits.
    """
    subject = contacts_for_email(contact.email) if contact.email else []
    if contact not in subject:
        subject.append(contact)
    targets = [c for c in subject if c.unsubscribed_at is None]
    if not targets:
        return False
    now = utcnow()
    for target in targets:
        target.unsubscribed_at = now
        target.marketing_consent = False
        for record in target.consents:
            if record.purpose == "marketing" and record.withdrawn_at is None:
                record.withdrawn_at = now
    ref = audit.ref_for_contact(contact)
    log_fulfilled("unsubscribe", ref=ref, channel=channel)
    audit.record("subject_unsubscribed", ref=ref, actor=channel, contacts=len(targets))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for target in targets:
        signals.subject_unsubscribed.send(app, contact_id=target.id, channel=channel)
    return True


def unsubscribe(contacts: list[Contact], *, channel: str) -> bool:
    """Stop every campaign to the subject; False if all were unsubscribed already."""
    changed = [unsubscribe_contact(c, channel=channel) for c in contacts]
    session().commit()
    return any(changed)


__all__ = ["unsubscribe", "unsubscribe_contact"]
