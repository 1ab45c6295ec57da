"""The dashboard's contacts and consent records (``user_data`` permission).

Agents find a contact by name or e-mail and open its page: its details, its
consent records, its requests and its conversations, each with a link into the
console. Contacts are named the way the console names them (the name, else
"Visitor 12"), so the same person reads the same everywhere.
"""
from __future__ import annotations

from typing import Any

from babel import Locale, UnknownLocaleError
from flask import abort, request, url_for
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import func, or_, select

from flask_gdprchat.admin.subject_requests import describe_request
from flask_gdprchat.admin.views import ReadOnlyView, _badge, _when
from flask_gdprchat.chat.inbox import contact_label
from flask_gdprchat.core import audit, sealing
from flask_gdprchat.core.agent_i18n import (
    _a,
    agent_locale,
    agent_ngettext,
    lazy_agent_gettext,
)
from flask_gdprchat.core.models import (
    Agent,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    SubjectRequest,
    row_id,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import email_is

#: Consent purposes as people read them.
PURPOSES = {"privacy_policy": lazy_agent_gettext("Privacy policy"),
            "marketing": lazy_agent_gettext("Marketing e-mails")}


def purpose_words(purpose: str) -> str:
    return str(PURPOSES.get(purpose, purpose.replace("_", " ").capitalize()))


def language_words(code: str | None) -> str:
    """``de`` -> ``German (de)`` (in the agent's language: ``Deutsch (de)``); empty when
    the record kept no language."""
    if not code:
        return ""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(agent_locale())
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return f"{name} ({code})" if name else code


def console_url(conversation_id: int) -> str:
    """The conversation, opened in the agent console."""
    return url_for("gdprchat.console.inbox", conversation=conversation_id)


def _flags(contact: Contact) -> Markup:
    badges = []
    if contact.restricted_at:
        badges.append(_badge(_a("Restricted"), "danger"))
    if contact.unsubscribed_at:
        badges.append(_badge(_a("Unsubscribed"), "warn"))
    if contact.is_anonymous:
        badges.append(_badge(_a("Anonymous")))
    return Markup(" ").join(badges)


#: Most recent contacts whose names a name search opens and compares.
NAME_SEARCH_SCOPE = 1000


def contact_search(search: str) -> Any:
    """The condition a dashboard search stands for: a contact number (``#42``), an
    exact e-mail address (by its blind index, among all contacts), or part of a
    name or address among the :data:`NAME_SEARCH_SCOPE` most recently active
    contacts (those values are sealed, so they are opened and compared here, not
    searched in SQL)."""
    term = search.strip()
    number = row_id(term.lstrip("#"))
    if number is not None:
        return Contact.id == number
    wanted = term.casefold()
    rows = session().execute(
        select(Contact.id, Contact.name, Contact.name_sealed, Contact.email, Contact.email_sealed)
        .order_by(Contact.last_activity_at.desc(), Contact.id.desc()).limit(NAME_SEARCH_SCOPE)
    ).all()
    name, email = sealing.field(Contact, "name"), sealing.field(Contact, "email")
    ids = []
    for row in rows:
        key = sealing.existing_contact_key(row.id)
        shown = (sealing.open_value(key, name, row.id, row.name_sealed, row.name) or "",
                 sealing.open_value(key, email, row.id, row.email_sealed, row.email) or "")
        if any(wanted in value.casefold() for value in shown):
            ids.append(row.id)
    found = Contact.id.in_(ids)
    return or_(email_is(term), found) if "@" in term else found


class ContactsView(ReadOnlyView):
    """Contacts: search by name or e-mail, then open one."""

    permissions = ("user_data",)
    column_list = ("label", "email", "chats", "last_activity_at", "marketing_consent", "flags")
    column_labels = {"label": lazy_agent_gettext("Contact"), "email": lazy_agent_gettext("E-mail"),
                     "chats": lazy_agent_gettext("Conversations"),
                     "last_activity_at": lazy_agent_gettext("Last active"),
                     "marketing_consent": lazy_agent_gettext("Marketing"),
                     "flags": lazy_agent_gettext("Status")}
    # Names and addresses are sealed: the database cannot sort by them, and a
    # search is answered by :func:`contact_search`, not by SQL LIKE.
    column_sortable_list = ("last_activity_at",)
    column_searchable_list = ("name", "email")
    search_label = lazy_agent_gettext("Search by name or e-mail")
    column_default_sort = ("last_activity_at", True)
    column_formatters = {
        "label": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            v.get_url(".contact_view", contact_id=m.id), contact_label(m)),
        "email": lambda v, c, m, n: m.email or "—",
        "chats": lambda v, c, m, n: session().scalar(
            select(func.count()).select_from(Conversation)
            .where(Conversation.contact_id == m.id)),
        "last_activity_at": lambda v, c, m, n: _when(m.last_activity_at),
        "marketing_consent": lambda v, c, m, n: _a("Yes") if m.marketing_consent else _a("No"),
        "flags": lambda v, c, m, n: _flags(m),
    }

    def _apply_search(self, query: Any, count_query: Any, joins: Any, count_joins: Any,
                      search: str) -> Any:
        clause = contact_search(search)
        query = query.filter(clause)
        if count_query is not None:
            count_query = count_query.filter(clause)
        return query, count_query, joins, count_joins

    def get_empty_list_message(self) -> str:
        if request.args.get("search"):
            return _a("No contact matches this search.")
        return _a("No contacts yet.")

    @expose("/<contact_id>/")
    def contact_view(self, contact_id: str) -> Any:
        number = row_id(contact_id)
        contact = session().get(Contact, number) if number else None
        if contact is None:
            abort(404, description=_a("There is no such contact (it may have been erased)."))
        db = session()
        conversations = []
        rows = db.execute(
            select(Conversation, func.count(Message.id), Agent)
            .outerjoin(Message, Message.conversation_id == Conversation.id)
            .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
            .where(Conversation.contact_id == contact.id)
            .group_by(Conversation.id, Agent.id)
            .order_by(Conversation.last_activity_at.desc())
        ).all()
        for conversation, messages, assignee in rows:
            conversations.append({
                "id": conversation.id,
                "started": _when(conversation.created_at),
                "last": _when(conversation.last_activity_at),
                "resolved": conversation.status == "resolved",
                "status": _a("Resolved") if conversation.status == "resolved" else _a("Open"),
                "messages": agent_ngettext("%(num)s message", "%(num)s messages", messages),
                "assignee": assignee.public_name if assignee else _a("Shared inbox"),
                "url": console_url(conversation.id),
            })
        consents = [{
            "purpose": purpose_words(record.purpose),
            "version": record.policy_version,
            "given": _when(record.given_at),
            "language": language_words(record.locale) or _a("not recorded"),
            "withdrawn": _when(record.withdrawn_at),
            "wording": record.wording,
        } for record in sorted(contact.consents, key=lambda r: r.id, reverse=True)]
        ref = audit.ref_for_contact(contact)
        tracked = db.scalars(
            select(SubjectRequest).where(SubjectRequest.subject_ref == ref)
            .order_by(SubjectRequest.id.desc()).limit(50)
        ).all()
        return self.render(
            "gdprchat_admin/contact.html",
            contact=contact,
            label=contact_label(contact),
            flags=_flags(contact),
            created=_when(contact.created_at),
            last=_when(contact.last_activity_at),
            unsubscribed=_when(contact.unsubscribed_at),
            restricted=_when(contact.restricted_at),
            conversations=conversations,
            consents=consents,
            requests=[describe_request(self, r) for r in tracked],
            ref=ref[:12],
        )


def _contact_cell(view: Any, context: Any, record: ConsentRecord, name: str) -> Any:
    contact = record.contact
    contacts = next((v for v in view.admin._views if isinstance(v, ContactsView)), None)
    if contacts is None or not contacts.is_accessible():
        return contact_label(contact)
    return Markup('<a href="{}">{}</a>').format(
        contacts.get_url(f"{contacts.endpoint}.contact_view", contact_id=contact.id),
        contact_label(contact))


def _withdrawn(view: Any, context: Any, record: ConsentRecord, name: str) -> Any:
    if record.withdrawn_at:
        return _badge(_a("Withdrawn %(date)s", date=_when(record.withdrawn_at)), "warn")
    return _badge(_a("In force"), "ok")


def _wording(view: Any, context: Any, record: ConsentRecord, name: str) -> str:
    text = record.wording or ""
    return text if len(text) <= 90 else text[:89] + "…"


class ConsentRecordsView(ReadOnlyView):
    """The proof of consent: who, what for, which policy version, the wording, when."""

    permissions = ("user_data",)
    column_list = ("contact", "purpose", "policy_version", "given_at", "locale", "withdrawn_at",
                   "wording")
    column_labels = {"contact": lazy_agent_gettext("Contact"),
                     "purpose": lazy_agent_gettext("Purpose"),
                     "policy_version": lazy_agent_gettext("Policy version"),
                     "given_at": lazy_agent_gettext("Given (UTC)"),
                     "locale": lazy_agent_gettext("Language"),
                     "withdrawn_at": lazy_agent_gettext("State"),
                     "wording": lazy_agent_gettext("Wording shown")}
    column_sortable_list = ("given_at", "policy_version")
    column_formatters = {
        "contact": _contact_cell,
        "purpose": lambda v, c, m, n: purpose_words(m.purpose),
        "given_at": lambda v, c, m, n: _when(m.given_at),
        "locale": lambda v, c, m, n: language_words(m.locale) or "—",
        "withdrawn_at": _withdrawn,
        "wording": _wording,
    }
    column_default_sort = ("id", True)

    def get_empty_list_message(self) -> str:
        return _a("No consent recorded yet.")


__all__ = ["ContactsView", "ConsentRecordsView", "console_url", "language_words", "purpose_words"]
