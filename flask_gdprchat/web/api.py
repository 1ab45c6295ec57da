"""The widget's JSON API: who can answer now, start a chat, leave a message for an
answer by e-mail, read a chat's history, renew consent.

Errors are JSON ``{"error": ..., "field" or "fields": ...}`` naming what to fix,
in the visitor's language; a refused request stores nothing.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from flask_gdprchat.chat import consent, conversations, offline
from flask_gdprchat.chat.inbox import conversation_summary
from flask_gdprchat.chat.schemas import load_offline_message, load_prechat, load_reconsent
from flask_gdprchat.core import access, office_hours, presence, push, security_log, throttle
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.i18n import _, visitor_locale
from flask_gdprchat.core.models import Conversation
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session

bp = Blueprint("api", __name__, url_prefix="/api")


def _error(status: int, error: str, **extra: Any) -> Any:
    response = jsonify({"error": error, **extra})
    response.status_code = status
    return response


def _plain(messages: Any) -> Any:
    """Validation messages as JSON, each field a list of texts in the visitor's language.

    The schemas' fixed messages are msgids, translated here; validators' messages
    were translated as they ran (looking them up again leaves them as they are).
    """
    if isinstance(messages, dict):
        return {str(k): _plain(v) if isinstance(v, (dict, list)) else [_(str(v))]
                for k, v in messages.items()}
    if isinstance(messages, list):
        return [_plain(m) if isinstance(m, (dict, list)) else _(str(m)) for m in messages]
    return [_(str(messages))]


def _validation_error(exc: ValidationError) -> Any:
    messages = _plain(exc.messages if isinstance(exc.messages, dict)
                      else {"_schema": exc.messages})
    names = sorted(k for k in messages if k != "_schema")
    status = 400 if names == ["consent"] else 422
    if not names:
        return _error(400, "; ".join(str(m) for m in messages.get("_schema", []))
                      or _("bad request"))
    first = messages[names[0]]
    text = first[0] if isinstance(first, list) and first else str(first)
    return _error(status, f"{names[0]}: {text}", field=names[0], fields=messages)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _visitor_conversation(conversation_id: int) -> Conversation | None:
    conversation = access.visitor_may_access(_bearer(), conversation_id)
    if conversation is None:
        security_log.refused(request.endpoint or "api", "token_does_not_open_conversation",
                             conversation=conversation_id)
    return conversation


@bp.route("/config")
def widget_config() -> Any:
    """What the widget needs before consent: nothing about the visitor."""
    wordings = consent.consent_wordings()
    return jsonify(
        locale=visitor_locale(),
        policy_version=setting("PRIVACY_POLICY_VERSION"),
        prechat_fields=list(setting("PRECHAT_FIELDS")),
        prechat_required=list(setting("PRECHAT_REQUIRED")),
        consent_text=wordings[consent.PRIVACY_POLICY],
        marketing_consent_text=wordings[consent.MARKETING],
        max_message_length=setting("MAX_MESSAGE_LENGTH"),
    )


@bp.route("/availability")
def availability() -> Any:
    """Whether a person can answer now: an agent online, within the office hours.

    ``next_open`` is when the office hours next begin (UTC, ISO 8601), or null
    when they do not say (open now, around the clock, or never).
    """
    now = utcnow()
    hours = setting("OFFICE_HOURS")
    agents = presence.agents_online()
    opening = office_hours.next_opening(hours, now)
    response = jsonify(
        online=agents > 0 and office_hours.is_open(hours, now),
        agents_online=agents,
        next_open=opening.strftime("%Y-%m-%dT%H:%M:%SZ") if opening else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/offline-messages", methods=["POST"])
def leave_message() -> Any:
    """A message left while nobody can answer: 201 once consent is given; answered by e-mail."""
    try:
        form = load_offline_message(request.get_json(silent=True))
        conversations.check_text(form.get("text"))
    except ValidationError as exc:
        return _validation_error(exc)
    except conversations.ChatError as exc:
        return _error(422, f"text: {exc.error}", field="text", fields={"text": [exc.error]})
    if not throttle.allow("offline_message", request.remote_addr or "unknown",
                          limit=setting("CONVERSATION_STARTS_PER_HOUR"),
                          window=dt.timedelta(hours=1)):
        session().commit()
        security_log.refused("leave_offline_message", "throttled")
        return _error(429, _("Too many messages sent from here. Please try again later."))
    try:
        left = offline.leave_message(form, conversations.host_identity())
    except conversations.ChatError as exc:
        return _error(exc.status, exc.error, **({"field": exc.field} if exc.field else {}))
    summary = conversation_summary(left.conversation, left.contact)
    summary["preview"] = left.message.text[:120]
    push.announce_conversation(summary)
    response = jsonify(conversation_id=left.conversation.id, email=left.contact.email,
                       **({"masked": left.masked} if left.masked else {}))
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/conversations", methods=["POST"])
def start() -> Any:
    """Start a chat: 201 ``{conversation_id, visitor_token}`` once consent is given."""
    identity = conversations.host_identity()
    data = request.get_json(silent=True)
    try:
        form = load_prechat(data, identified=identity is not None)
    except ValidationError as exc:
        return _validation_error(exc)
    if not throttle.allow("conversation_start", request.remote_addr or "unknown",
                          limit=setting("CONVERSATION_STARTS_PER_HOUR"),
                          window=dt.timedelta(hours=1)):
        session().commit()
        security_log.refused("start_conversation", "throttled")
        return _error(429, _("Too many chats started from here. Please try again later."))
    try:
        started = conversations.start_conversation(form, identity)
    except conversations.ChatError as exc:
        return _error(exc.status, exc.error, **({"field": exc.field} if exc.field else {}))
    push.announce_conversation(conversation_summary(started.conversation, started.contact))
    response = jsonify(
        conversation_id=started.conversation.id,
        visitor_token=started.token,
        policy_version=started.consents[0].policy_version,
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/conversations/<int:conversation_id>/messages")
def messages(conversation_id: int) -> Any:
    """The history of the visitor's own conversation (``Authorization: Bearer``)."""
    conversation = _visitor_conversation(conversation_id)
    if conversation is None:
        return _error(404, _("no such conversation for this token"))
    response = jsonify(
        conversation_id=conversation.id,
        status=conversation.status,
        messages=conversations.history(conversation),
        policy_version=setting("PRIVACY_POLICY_VERSION"),
        consent_required=not consent.consent_is_current(conversation.contact_id),
        restricted=not access.conversation_is_open_for_processing(conversation),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/conversations/<int:conversation_id>/consent", methods=["POST"])
def renew(conversation_id: int) -> Any:
    """A returning visitor accepts the policy version now in force."""
    conversation = _visitor_conversation(conversation_id)
    if conversation is None:
        return _error(404, _("no such conversation for this token"))
    try:
        form = load_reconsent(request.get_json(silent=True))
        conversations.renew_consent(conversation, form)
    except ValidationError as exc:
        return _validation_error(exc)
    except conversations.ChatError as exc:
        return _error(exc.status, exc.error, **({"field": exc.field} if exc.field else {}))
    return jsonify(ok=True, policy_version=setting("PRIVACY_POLICY_VERSION"))
