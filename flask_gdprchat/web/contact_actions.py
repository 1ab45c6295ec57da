"""The subject rights as agents carry them out from the console.

Every view needs the ``user_data`` permission; the state-changing ones are POSTs
with a CSRF token. A browser form gets a redirect back to the inbox with a flash
message; a ``fetch`` asking for JSON (``Accept: application/json``) gets
``{"ok": true, "message": ...}`` or ``{"ok": false, "error": ...}`` with a status.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, request
from werkzeug.datastructures import MultiDict

from flask_gdprchat.core.access import agent_can
from flask_gdprchat.core.agent_i18n import (
    _a,
    agent_gettext,
    agent_url_for,
    lazy_agent_gettext,
)
from flask_gdprchat.core.csrf import protect
from flask_gdprchat.core.identity import agent_required, get_current_agent
from flask_gdprchat.core.models import Contact, Conversation, row_id
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.erasure import erase_contacts
from flask_gdprchat.rights.export import export_response
from flask_gdprchat.rights.objection import unsubscribe
from flask_gdprchat.rights.rectification import clean_rectification, rectify
from flask_gdprchat.rights.subject import RightsError, subject_of
from flask_gdprchat.rights.transcript import send_conversation_transcript
from flask_gdprchat.web.errors import wants_json

#: The contact's fields as the answer to a correction names them.
FIELD_NAMES = {
    "name": lazy_agent_gettext("name"),
    "email": lazy_agent_gettext("e-mail"),
    "company": lazy_agent_gettext("company"),
    "phone": lazy_agent_gettext("phone"),
}

bp = Blueprint("agent_rights", __name__, url_prefix="/agent")
protect(bp)
# _contact_actions.html shows only what the agent may do, asking the one access rule.
bp.add_app_template_global(agent_can, "gdprchat_agent_can")
bp.add_app_template_global(get_current_agent, "gdprchat_current_agent")
# ... and speaks the agent's language wherever it is rendered (a host may include it).
bp.add_app_template_global(agent_gettext, "gdprchat_agent_gettext")


def _actor() -> str:
    agent = get_current_agent()
    assert agent is not None  # every view here is behind agent_required
    return f"agent:{agent.id}"


def _inbox(conversation_id: int | None) -> str:
    if conversation_id is None:
        return agent_url_for("gdprchat.console.inbox")
    return agent_url_for("gdprchat.console.inbox", conversation=conversation_id) + (
        f"#conversation-{conversation_id}"
    )


def _done(message: str, conversation_id: int | None, **data: Any) -> Any:
    if wants_json():
        return jsonify(ok=True, message=message, **data)
    flash(message)
    return redirect(_inbox(conversation_id), code=303)


def _failed(error: RightsError, conversation_id: int | None) -> Any:
    if wants_json():
        return jsonify(ok=False, error=str(error)), error.status
    flash(str(error), "error")
    return redirect(_inbox(conversation_id), code=303)


def _conversation(conversation_id: int) -> Conversation:
    conversation = session().get(Conversation, conversation_id) if row_id(conversation_id) else None
    if conversation is None:
        abort(404, description=_a("No such conversation (it may have been erased)."))
    return conversation


def _contact(contact_id: int) -> Contact:
    contact = session().get(Contact, contact_id) if row_id(contact_id) else None
    if contact is None:
        abort(404, description=_a("No such contact (it may have been erased)."))
    return contact


def _latest_conversation_id(contact: Contact) -> int | None:
    ids = [c.id for c in contact.conversations]
    return max(ids) if ids else None


@bp.get("/conversations/<int:conversation_id>/export.csv")
@agent_required("user_data")
def export_csv(conversation_id: int) -> Any:
    """The data of the conversation's contact (the whole subject), as CSV."""
    contact = _conversation(conversation_id).contact
    contacts = subject_of(contact)
    return export_response(contact.email, "csv", "agent", contacts, actor=_actor())


@bp.post("/conversations/<int:conversation_id>/transcript")
@agent_required("user_data")
def transcript(conversation_id: int) -> Any:
    """E-mail the conversation's transcript to its contact."""
    conversation = _conversation(conversation_id)
    try:
        send_conversation_transcript(conversation, channel="agent", actor=_actor())
    except RightsError as error:
        return _failed(error, conversation_id)
    return _done(_a("The transcript is on its way to the contact."), conversation_id)


@bp.post("/conversations/<int:conversation_id>/delete")
@agent_required("user_data")
def delete(conversation_id: int) -> Any:
    """"Delete chat": erase the contact of this conversation, as a whole subject."""
    contact = _conversation(conversation_id).contact
    removed = erase_contacts(subject_of(contact), channel="agent", actor=_actor())
    return _done(
        _a("The contact and all their conversations are erased."), None,
        erased=dict(removed.counts),
    )


@bp.post("/contacts/<int:contact_id>")
@agent_required("user_data")
def rectify_contact(contact_id: int) -> Any:
    """Correct the contact's name, e-mail, company or phone."""
    contact = _contact(contact_id)
    conversation_id = _latest_conversation_id(contact)
    form = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(form, (dict, MultiDict)):
        return _failed(RightsError(_a("Send the corrections as a form or a JSON object."), 400),
                       conversation_id)
    try:
        changed = rectify(subject_of(contact), clean_rectification(form or {}), channel="agent",
                          actor=_actor())
    except RightsError as error:
        return _failed(error, conversation_id)
    names = ", ".join(str(FIELD_NAMES.get(field, field)) for field in changed)
    message = _a("Corrected: %(fields)s.", fields=names) if changed else _a("Nothing changed.")
    return _done(message, conversation_id, fields=changed)


@bp.post("/contacts/<int:contact_id>/unsubscribe")
@agent_required("user_data")
def unsubscribe_contact_view(contact_id: int) -> Any:
    """Stop every campaign to the contact (the whole subject)."""
    contact = _contact(contact_id)
    changed = unsubscribe(subject_of(contact), channel="agent")
    message = _a("The contact is unsubscribed from every campaign.") if changed else _a(
        "The contact was already unsubscribed.")
    return _done(message, _latest_conversation_id(contact))
