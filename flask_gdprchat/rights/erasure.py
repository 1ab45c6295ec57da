"""Erasure (Art. 17): the subject, its conversations and everything held, at once."""
from __future__ import annotations

from sqlalchemy import select

from flask_gdprchat.core import audit, push, signals
from flask_gdprchat.core.database import scrub_free_space
from flask_gdprchat.core.deletion import Removed, delete_contacts
from flask_gdprchat.core.models import Contact, Conversation
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email
from flask_gdprchat.rights.requests import fulfil, open_request
from flask_gdprchat.rights.subject import _app, ref_of


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
    sids = push.visitor_sids(conversation_ids)
    request = open_request("erase", ref=ref, channel=channel)
    audit.record("erasure_requested", ref=ref, actor=actor or channel)
    try:
        removed = delete_contacts(ids)
        fulfil(request)
        # The contacts' numbers (nothing else) let verify-erasure check their keys are gone.
        audit.record("subject_erased", ref=ref, actor=actor or channel, counts=dict(removed.counts),
                     contact_ids=ids)
        db.commit()
    except Exception:
        db.rollback()
        raise
    scrub_free_space()
    push.end_conversations(conversation_ids)
    push.close_sockets(sids)
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
