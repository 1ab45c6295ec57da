"""The dashboard's audit log (``user_data`` permission): each event as a sentence.

The log itself stays as written (event names, actors such as ``agent:1``,
PII-free details); this screen only says what each event means ("Agent #1
signed in", "A subject corrected their phone number"), with the raw record one
click away and whether the hash chain still holds.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import request
from flask_admin import expose
from markupsafe import Markup

from flask_gdprchat.admin.forms import PERMISSION_NAMES
from flask_gdprchat.admin.views import ReadOnlyView, _when
from flask_gdprchat.core import audit
from flask_gdprchat.core.agent_i18n import _a, agent_locale, agent_ngettext, lazy_agent_gettext
from flask_gdprchat.core.models import AuditEvent

#: Actors that are the subject acting on their own data.
SELF_ACTORS = {"subject", "link", "one_click"}

ACTORS = {
    "subject": lazy_agent_gettext("A subject"),
    "link": lazy_agent_gettext("A subject"),
    "one_click": lazy_agent_gettext("A subject"),
    "agent": lazy_agent_gettext("An agent"),
    "cli": lazy_agent_gettext("The command line"),
    "api": lazy_agent_gettext("The host application"),
    "scheduler": lazy_agent_gettext("The scheduler"),
    "system": lazy_agent_gettext("The system"),
}

#: What a purge or an erasure removes, by kind of record: the count in words.
RECORDS: dict[str, Callable[[int], str]] = {
    "contacts": lambda n: agent_ngettext("%(num)s contact", "%(num)s contacts", n),
    "conversations": lambda n: agent_ngettext("%(num)s conversation", "%(num)s conversations", n),
    "messages": lambda n: agent_ngettext("%(num)s message", "%(num)s messages", n),
    "message_edits": lambda n: agent_ngettext("%(num)s earlier version of a message",
                                              "%(num)s earlier versions of messages", n),
    "consent_records": lambda n: agent_ngettext("%(num)s consent record",
                                                "%(num)s consent records", n),
    "campaign_deliveries": lambda n: agent_ngettext("%(num)s campaign delivery record",
                                                    "%(num)s campaign delivery records", n),
    "pending_mail": lambda n: agent_ngettext("%(num)s unsent e-mail", "%(num)s unsent e-mails", n),
    "sockets": lambda n: agent_ngettext("%(num)s open connection", "%(num)s open connections", n),
}

FIELDS = {"name": lazy_agent_gettext("name"), "email": lazy_agent_gettext("e-mail address"),
          "company": lazy_agent_gettext("company"), "phone": lazy_agent_gettext("phone number")}

SETTINGS = {
    "ANONYMOUS_RETENTION_DAYS": lazy_agent_gettext("retention of anonymous conversations"),
    "IDENTIFIED_RETENTION_DAYS": lazy_agent_gettext("retention of identified conversations"),
    "RESTRICTED_GRACE_DAYS": lazy_agent_gettext("grace period of restricted subjects"),
    "PRECHAT_FIELDS": lazy_agent_gettext("pre-chat fields"),
    "PRECHAT_REQUIRED": lazy_agent_gettext("required pre-chat fields"),
    "CONSENT_TEXT": lazy_agent_gettext("consent wording"),
    "MARKETING_CONSENT_TEXT": lazy_agent_gettext("marketing opt-in wording"),
    "PRIVACY_POLICY_URL": lazy_agent_gettext("privacy policy address"),
    "PRIVACY_POLICY_VERSION": lazy_agent_gettext("privacy policy version"),
    "WIDGET_TITLE": lazy_agent_gettext("widget title"),
    "WIDGET_GREETING": lazy_agent_gettext("greeting"),
    "WIDGET_COLOR": lazy_agent_gettext("widget colour"),
}

FORMATS = {"csv": "CSV", "json": "JSON", "xml": "XML"}


def _and(words: Iterable[Any]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (in the agent's language)."""
    items = [str(w) for w in words if w]
    if len(items) <= 1:
        return "".join(items)
    return _a("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


def actor_words(actor: str | None) -> str:
    """``agent:1`` -> ``Agent #1``; ``cli`` -> ``The command line``."""
    if not actor:
        return _a("The system")
    kind, _, number = actor.partition(":")
    if kind == "agent" and number:
        return _a("Agent #%(id)s", id=number)
    return str(ACTORS.get(actor, actor))


def records_words(counts: Any) -> str:
    """``{"conversations": 3, "messages": 12}`` -> ``3 conversations and 12 messages``."""
    if not isinstance(counts, dict):
        return ""
    order = [k for k in RECORDS if k in counts] + sorted(k for k in counts if k not in RECORDS)
    parts = []
    for kind in order:
        n = counts[kind]
        if not isinstance(n, int) or n <= 0:
            continue
        words = RECORDS.get(kind)
        parts.append(words(n) if words else f"{n} {kind.replace('_', ' ')}")
    return _and(parts)


def _permissions(names: Any) -> str:
    if not names:
        return _a("no permissions")
    return _and(PERMISSION_NAMES.get(n, n) for n in names)


def _team(details: dict[str, Any], actor: str | None, event: str) -> str | None:
    who = actor_words(actor)
    member = details.get("agent_id", details.get("agent"))
    if event == "agent_signed_in":
        return _a("%(who)s signed in", who=who)
    if event == "agent_signed_out_everywhere":
        if actor == f"agent:{member}":
            return _a("Agent #%(id)s signed out on every device", id=member)
        return _a("%(who)s signed team member #%(id)s out on every device", who=who, id=member)
    if event == "agent_created":
        if details.get("admin"):
            return _a("%(who)s added team member #%(id)s as an admin", who=who, id=member)
        return _a("%(who)s added team member #%(id)s with %(permissions)s", who=who, id=member,
                  permissions=_permissions(details.get("permissions")))
    if event == "agent_changed":
        role = _a("admin") if details.get("admin") else _permissions(details.get("permissions"))
        state = _a("enabled") if details.get("active", True) else _a("disabled")
        return _a("%(who)s changed team member #%(id)s: %(role)s; %(state)s", who=who, id=member,
                  role=role, state=state)
    if event == "agent_erased":
        if details.get("purged"):
            return _a("%(who)s deleted team member #%(id)s (completely, first name too)",
                      who=who, id=member)
        return _a("%(who)s deleted team member #%(id)s (their messages keep the first name)",
                  who=who, id=member)
    return None


def _rights(details: dict[str, Any], actor: str | None, event: str) -> str | None:
    own = actor in SELF_ACTORS
    who = actor_words(actor)
    if event == "access_link_requested":
        if details.get("found"):
            return _a("A subject asked for a link to their data (a link was sent)")
        return _a("A subject asked for a link to their data (the address is unknown, "
                  "nothing was sent)")
    if event == "erasure_requested":
        return (_a("A subject asked for their data to be erased") if own
                else _a("%(who)s asked for a subject's data to be erased", who=who))
    if event == "subject_erased":
        removed = records_words(details.get("counts"))
        if own:
            return (_a("A subject erased their data (%(removed)s removed)", removed=removed)
                    if removed else _a("A subject erased their data"))
        return (_a("%(who)s erased a subject's data (%(removed)s removed)", who=who,
                   removed=removed) if removed else _a("%(who)s erased a subject's data", who=who))
    if event == "subject_rectified":
        fields = _and(FIELDS.get(f, f) for f in details.get("fields") or []) or _a("details")
        return (_a("A subject corrected their %(fields)s", fields=fields) if own
                else _a("%(who)s corrected a subject's %(fields)s", who=who, fields=fields))
    if event == "subject_exported":
        fmt = FORMATS.get(str(details.get("format")), str(details.get("format") or _a("a file")))
        return (_a("A subject downloaded their data as %(format)s", format=fmt) if own
                else _a("%(who)s exported a subject's data as %(format)s", who=who, format=fmt))
    if event == "subject_unsubscribed":
        if actor == "link":
            return _a("A subject unsubscribed from campaigns through the link in a campaign "
                      "e-mail")
        if actor == "one_click":
            return _a("A subject unsubscribed from campaigns with one click in their mail program")
        return (_a("A subject unsubscribed from campaigns") if own
                else _a("%(who)s unsubscribed a subject from campaigns", who=who))
    if event == "subject_restricted":
        return (_a("A subject restricted the processing of their data") if own
                else _a("%(who)s restricted the processing of a subject's data", who=who))
    if event == "restriction_lifted":
        return (_a("A subject lifted the restriction on their data") if own
                else _a("%(who)s lifted the restriction on a subject's data", who=who))
    if event == "transcript_sent":
        n = details.get("conversations")
        if not isinstance(n, int):
            return (_a("A subject had the transcript e-mailed to them") if own
                    else _a("%(who)s e-mailed a subject the transcript", who=who))
        return (agent_ngettext("A subject had the transcript of %(num)s conversation e-mailed "
                               "to them",
                               "A subject had the transcript of %(num)s conversations e-mailed "
                               "to them", n) if own
                else agent_ngettext("%(who)s e-mailed a subject the transcript of %(num)s "
                                    "conversation",
                                    "%(who)s e-mailed a subject the transcript of %(num)s "
                                    "conversations", n, who=who))
    return None


def sentence(event: AuditEvent) -> str:
    """What an audit event means, as a sentence people read (no personal data:
    the event holds none), in the agent's language."""
    details = event.details if isinstance(event.details, dict) else {}
    name, actor = event.event, event.actor
    said = _team(details, actor, name) or _rights(details, actor, name)
    if said:
        return _a("%(sentence)s.", sentence=said)
    if name == "consent_given":
        version = details.get("policy_version")
        if details.get("purpose") == "marketing":
            return (_a("A visitor agreed to receive marketing e-mails (policy version "
                       "%(version)s).", version=version) if version
                    else _a("A visitor agreed to receive marketing e-mails."))
        return (_a("A visitor consented to the privacy policy (policy version %(version)s).",
                   version=version) if version
                else _a("A visitor consented to the privacy policy."))
    if name == "retention_purge":
        removed = records_words(details.get("counts"))
        if actor == "scheduler":
            by = ""
        elif actor == "cli":
            by = _a(" (run from the command line)")
        elif actor:
            by = _a(" (run by %(who)s)", who=actor_words(actor)[:1].lower() + actor_words(actor)[1:]
                    if agent_locale() == "en" else actor_words(actor))
        else:
            by = ""
        if not removed:
            return _a("Retention purge found nothing to remove%(by)s.", by=by)
        return _a("Retention purge removed %(removed)s%(by)s.", removed=removed, by=by)
    if name == "settings_changed":
        keys = details.get("keys") or []
        return agent_ngettext(
            "%(who)s changed %(num)s setting: %(names)s.",
            "%(who)s changed %(num)s settings: %(names)s.", len(keys), who=actor_words(actor),
            names=_and(SETTINGS.get(k, k.lower().replace("_", " ")) for k in keys))
    words = name.replace("_", " ")
    if actor:
        return _a("%(who)s: %(event)s.", who=actor_words(actor), event=words)
    return words[:1].upper() + words[1:] + "."


def raw_record(event: AuditEvent) -> str:
    """The event as stored, for those who check it against the chain."""
    return json.dumps({
        "id": event.id,
        "created_at": event.created_at.isoformat(timespec="microseconds") if event.created_at else None,
        "event": event.event,
        "actor": event.actor,
        "subject_ref": event.subject_ref,
        "details": event.details or {},
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }, indent=2, sort_keys=True, ensure_ascii=False)


def short_ref(ref: str | None) -> Markup | str:
    """A subject's keyed reference, shortened: enough to match, never the person."""
    if not ref:
        return "—"
    return Markup('<code class="gdprchat-admin-ref" title="{}">{}</code>').format(
        _a("Keyed reference %(ref)s", ref=ref), ref[:12])


class AuditLogView(ReadOnlyView):
    """The hash-chained audit log, in sentences, with whether the chain still holds."""

    permissions = ("user_data",)
    column_list = ("created_at", "sentence", "subject_ref", "raw")
    column_labels = {"created_at": lazy_agent_gettext("When (UTC)"),
                     "sentence": lazy_agent_gettext("What happened"),
                     "subject_ref": lazy_agent_gettext("Subject"),
                     "raw": lazy_agent_gettext("Record")}
    column_sortable_list = ("created_at",)
    column_searchable_list = ("event", "subject_ref")
    search_label = lazy_agent_gettext("Search by subject reference or event")
    column_formatters = {
        "created_at": lambda v, c, m, n: _when(m.created_at),
        "sentence": lambda v, c, m, n: sentence(m),
        "subject_ref": lambda v, c, m, n: short_ref(m.subject_ref),
        "raw": lambda v, c, m, n: Markup(
            '<details class="gdprchat-admin-raw"><summary>{}</summary>'
            '<pre>{}</pre></details>').format(_a("Raw record #%(id)s", id=m.id), raw_record(m)),
    }
    column_default_sort = ("id", True)
    list_template = "gdprchat_admin/audit_list.html"

    def get_empty_list_message(self) -> str:
        if request.args.get("search"):
            return _a("No event matches this search.")
        return _a("No events yet.")

    @expose("/")
    def index_view(self) -> Any:
        self._template_args["chain"] = audit.verify_chain()
        return super().index_view()


def audit_search_url(view: Any, ref: str | None) -> str | None:
    """The audit log searched for a subject's reference, if this agent may open it."""
    log = next((v for v in view.admin._views if isinstance(v, AuditLogView)), None)
    if not ref or log is None or not log.is_accessible():
        return None
    return str(log.get_url(f"{log.endpoint}.index_view", search=ref[:12]))


__all__ = ["AuditLogView", "actor_words", "audit_search_url", "raw_record", "records_words",
           "sentence", "short_ref"]
