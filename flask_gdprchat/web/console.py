"""The agent console: a live inbox, the conversation, and the contact panel.

The page is rendered with the inbox and, when one is chosen, the conversation
and its contact panel, so it works before its script runs; ``console.js`` then
keeps it live over the ``/gdprchat`` socket. The contact panel includes
``gdprchat/console/_contact_actions.html`` (the subject-rights forms) with
``conversation`` and ``contact`` in its context.

The console speaks the agent's language (``core.agent_i18n``): its templates
call ``_a``, and the script's own words arrive translated in the page's
``gdprchat-console-words`` block.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import func, select

from flask_gdprchat.chat import conversations
from flask_gdprchat.chat.inbox import avatar, contact_label, conversation_summary
from flask_gdprchat.chat.saved_replies import saved_replies
from flask_gdprchat.core import access, sealing
from flask_gdprchat.core.agent_i18n import agent_page_context, script_words
from flask_gdprchat.core.identity import agent_required, current_agent
from flask_gdprchat.core.models import Agent, Contact, Conversation, Message, row_id
from flask_gdprchat.core.state import session

bp = Blueprint("console", __name__, url_prefix="/agent")

#: Conversations listed in the inbox at most (newest activity first).
INBOX_SIZE = 200
PREVIEW_LENGTH = 120
#: The console's script, whose ``_a("...")`` words the page carries translated.
CONSOLE_SCRIPT = Path(__file__).resolve().parent.parent / "static" / "gdprchat" / "console.js"


def inbox_rows(limit: int = INBOX_SIZE) -> list[dict[str, Any]]:
    """The inbox: each conversation's summary with its last message as a preview."""
    db = session()
    last_ids = (
        select(Message.conversation_id, func.max(Message.id).label("last_id"))
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = db.execute(
        select(Conversation, Contact, Message.id, Message.text, Message.text_sealed,
               Message.author, Message.agent_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(last_ids, last_ids.c.conversation_id == Conversation.id)
        .outerjoin(Message, Message.id == last_ids.c.last_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()
    out = []
    for conversation, contact, message_id, plain, sealed, author, agent_id in rows:
        summary = conversation_summary(conversation, contact)
        text = "" if message_id is None else conversations.message_text(
            message_id, plain, sealed, sealing.existing_contact_key(contact.id))
        summary["preview"] = text[:PREVIEW_LENGTH]
        summary["preview_author"] = author
        summary["preview_agent_id"] = agent_id
        out.append(summary)
    return out


def team_roster() -> list[dict[str, Any]]:
    """The team members a conversation can be assigned to, for the console's menus."""
    agents = session().scalars(
        select(Agent).where(Agent.is_active.is_(True), Agent.deleted_at.is_(None))
        .order_by(Agent.id)
    )
    return [{"id": agent.id, "name": agent.public_name, "presence": agent.presence}
            for agent in agents if access.agent_may_be_assigned(agent)]


def _viewable(conversation_id: int) -> Conversation:
    conversation = session().get(Conversation, conversation_id) if row_id(conversation_id) else None
    if not access.agent_may_view(current_agent, conversation):
        abort(404)
    assert conversation is not None
    return conversation


def contact_details(contact: Contact) -> dict[str, Any]:
    """The contact panel's facts (shown to signed-in agents only)."""
    return {
        "id": contact.id,
        "label": contact_label(contact),
        "avatar": avatar(contact),
        "name": contact.name,
        "email": contact.email,
        "company": contact.company,
        "phone": contact.phone,
        "external_id": contact.external_id,
        "identified": not contact.is_anonymous,
        "marketing_consent": bool(contact.marketing_consent),
        "unsubscribed": contact.unsubscribed_at is not None,
        "restricted": contact.restricted_at is not None,
        "created_at": conversations.iso(contact.created_at),
        "last_activity_at": conversations.iso(contact.last_activity_at),
    }


@bp.route("/")
@agent_required()
def inbox() -> str:
    """The live inbox; ``?conversation=<id>`` opens one."""
    selected = request.args.get("conversation", type=int)
    conversation = _viewable(selected) if selected else None
    return render_template(
        "gdprchat/console/inbox.html",
        **agent_page_context(),
        words=script_words(CONSOLE_SCRIPT),
        agent=current_agent,
        rows=inbox_rows(),
        conversation=conversation,
        contact=conversation.contact if conversation else None,
        summary=conversation_summary(conversation, conversation.contact) if conversation else None,
        can_reply=access.agent_may_reply(current_agent, conversation) if conversation else False,
        can_edit=access.agent_can(current_agent, "edit_messages"),
        can_work=access.agent_can(current_agent, "send_messages"),
        team=team_roster(),
    )


@bp.route("/conversations/<int:conversation_id>.json")
@agent_required()
def conversation_json(conversation_id: int) -> Any:
    """One conversation for the console: summary, contact, messages, what may be done."""
    conversation = _viewable(conversation_id)
    response = jsonify(
        conversation=conversation_summary(conversation, conversation.contact),
        contact=contact_details(conversation.contact),
        messages=conversations.history(conversation),
        can_reply=access.agent_may_reply(current_agent, conversation),
        can_edit=access.agent_can(current_agent, "edit_messages"),
        can_work=access.agent_may_work(current_agent, conversation),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/saved-replies.json")
@agent_required()
def saved_replies_json() -> Any:
    """The saved replies, for the reply box's ``/`` list."""
    response = jsonify(saved_replies=saved_replies())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/conversations/<int:conversation_id>/panel")
@agent_required()
def contact_panel(conversation_id: int) -> Any:
    """The contact panel as server-rendered HTML (its action forms carry CSRF tokens)."""
    conversation = _viewable(conversation_id)
    html = render_template(
        "gdprchat/console/_contact_panel.html",
        **agent_page_context(),
        conversation=conversation,
        contact=conversation.contact,
        summary=conversation_summary(conversation, conversation.contact),
    )
    return html, 200, {"Cache-Control": "no-store"}
