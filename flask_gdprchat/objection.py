"""The right to object (Art. 21): unsubscribing stops every campaign at once."""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import and_

from . import audit, signals
from .clock import utcnow
from .models import Contact
from .state import session
from .subject_requests import log_fulfilled
from .subjects import contacts_for_email


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


def may_receive_campaigns(contact: Contact) -> bool:
    """The one rule for campaigns: marketing consent, not unsubscribed, not restricted."""
    return (
        contact.marketing_consent
        and contact.unsubscribed_at is None
        and contact.restricted_at is None
    )


def may_receive_campaigns_clause() -> Any:
    """:func:`may_receive_campaigns` as an SQL condition on ``Contact``, for queries.

    The same three conditions; ``tests/test_campaigns.py`` checks both agree.
    """
    return and_(
        Contact.marketing_consent.is_(True),
        Contact.unsubscribed_at.is_(None),
        Contact.restricted_at.is_(None),
    )


__all__ = ["unsubscribe_contact", "may_receive_campaigns", "may_receive_campaigns_clause"]
