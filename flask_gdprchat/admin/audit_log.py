"""The dashboard's audit log (``user_data`` permission): each event as a sentence.

The log itself stays as written (event names, actors such as ``agent:1``,
PII-free details); this screen only says what each event means ("Agent #1
signed in", "A subject corrected their phone number"), with the raw record one
click away and whether the hash chain still holds.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import request
from flask_admin import expose
from markupsafe import Markup

from flask_gdprchat.admin.forms import PERMISSION_NAMES
from flask_gdprchat.admin.views import ReadOnlyView, _count, _when
from flask_gdprchat.core import audit
from flask_gdprchat.core.models import AuditEvent

#: Actors that are the subject acting on their own data.
SELF_ACTORS = {"subject", "link", "one_click"}

ACTORS = {
    "subject": "A subject",
    "link": "A subject",
    "one_click": "A subject",
    "agent": "An agent",
    "cli": "The command line",
    "api": "The host application",
    "scheduler": "The scheduler",
    "system": "The system",
}

#: What a purge or an erasure removes, by kind of record: (one, many).
RECORDS = {
    "contacts": ("contact", "contacts"),
    "conversations": ("conversation", "conversations"),
    "messages": ("message", "messages"),
    "message_edits": ("earlier version of a message", "earlier versions of messages"),
    "consent_records": ("consent record", "consent records"),
    "campaign_deliveries": ("campaign delivery record", "campaign delivery records"),
    "pending_mail": ("unsent e-mail", "unsent e-mails"),
    "sockets": ("open connection", "open connections"),
}

FIELDS = {"name": "name", "email": "e-mail address", "company": "company",
          "phone": "phone number"}

SETTINGS = {
    "ANONYMOUS_RETENTION_DAYS": "retention of anonymous conversations",
    "IDENTIFIED_RETENTION_DAYS": "retention of identified conversations",
    "RESTRICTED_GRACE_DAYS": "grace period of restricted subjects",
    "PRECHAT_FIELDS": "pre-chat fields",
    "PRECHAT_REQUIRED": "required pre-chat fields",
    "CONSENT_TEXT": "consent wording",
    "MARKETING_CONSENT_TEXT": "marketing opt-in wording",
    "PRIVACY_POLICY_URL": "privacy policy address",
    "PRIVACY_POLICY_VERSION": "privacy policy version",
    "WIDGET_TITLE": "widget title",
    "WIDGET_GREETING": "greeting",
    "WIDGET_COLOR": "widget colour",
}

FORMATS = {"csv": "CSV", "json": "JSON", "xml": "XML"}


def _and(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [w for w in words if w]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def actor_words(actor: str | None) -> str:
    """``agent:1`` -> ``Agent #1``; ``cli`` -> ``The command line``."""
    if not actor:
        return "The system"
    kind, _, number = actor.partition(":")
    if kind == "agent" and number:
        return f"Agent #{number}"
    return ACTORS.get(actor, actor)


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
        one, many = RECORDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
        parts.append(_count(n, one, many))
    return _and(parts)


def _permissions(names: Any) -> str:
    if not names:
        return "no permissions"
    return _and(PERMISSION_NAMES.get(n, n) for n in names)


def _team(details: dict[str, Any], actor: str | None, event: str) -> str | None:
    who = actor_words(actor)
    member = details.get("agent_id", details.get("agent"))
    target = f"team member #{member}"
    if event == "agent_signed_in":
        return f"{who} signed in"
    if event == "agent_signed_out_everywhere":
        if actor == f"agent:{member}":
            return f"Agent #{member} signed out on every device"
        return f"{who} signed {target} out on every device"
    if event == "agent_created":
        role = "as an admin" if details.get("admin") else \
            f"with {_permissions(details.get('permissions'))}"
        return f"{who} added {target} {role}"
    if event == "agent_changed":
        role = "admin" if details.get("admin") else _permissions(details.get("permissions"))
        state = "enabled" if details.get("active", True) else "disabled"
        return f"{who} changed {target}: {role}; {state}"
    if event == "agent_erased":
        how = ("completely, first name too" if details.get("purged")
               else "their messages keep the first name")
        return f"{who} deleted {target} ({how})"
    return None


def _rights(details: dict[str, Any], actor: str | None, event: str) -> str | None:
    own = actor in SELF_ACTORS
    who = actor_words(actor)
    if event == "access_link_requested":
        outcome = "a link was sent" if details.get("found") else "the address is unknown, nothing was sent"
        return f"A subject asked for a link to their data ({outcome})"
    if event == "erasure_requested":
        return ("A subject asked for their data to be erased" if own
                else f"{who} asked for a subject's data to be erased")
    if event == "subject_erased":
        removed = records_words(details.get("counts"))
        what = f" ({removed} removed)" if removed else ""
        return ("A subject erased their data" if own else f"{who} erased a subject's data") + what
    if event == "subject_rectified":
        fields = _and(FIELDS.get(f, f) for f in details.get("fields") or []) or "details"
        return (f"A subject corrected their {fields}" if own
                else f"{who} corrected a subject's {fields}")
    if event == "subject_exported":
        fmt = FORMATS.get(str(details.get("format")), str(details.get("format") or "a file"))
        return (f"A subject downloaded their data as {fmt}" if own
                else f"{who} exported a subject's data as {fmt}")
    if event == "subject_unsubscribed":
        how = {"link": " through the link in a campaign e-mail",
               "one_click": " with one click in their mail program"}.get(actor or "", "")
        return (f"A subject unsubscribed from campaigns{how}" if own
                else f"{who} unsubscribed a subject from campaigns")
    if event == "subject_restricted":
        return ("A subject restricted the processing of their data" if own
                else f"{who} restricted the processing of a subject's data")
    if event == "restriction_lifted":
        return ("A subject lifted the restriction on their data" if own
                else f"{who} lifted the restriction on a subject's data")
    if event == "transcript_sent":
        n = details.get("conversations")
        of = f" of {_count(n, 'conversation', 'conversations')}" if isinstance(n, int) else ""
        return (f"A subject had the transcript{of} e-mailed to them" if own
                else f"{who} e-mailed a subject the transcript{of}")
    return None


def sentence(event: AuditEvent) -> str:
    """What an audit event means, as a sentence people read (no personal data:
    the event holds none)."""
    details = event.details if isinstance(event.details, dict) else {}
    name, actor = event.event, event.actor
    said = _team(details, actor, name) or _rights(details, actor, name)
    if said:
        return said + "."
    if name == "consent_given":
        version = details.get("policy_version")
        of = f" (policy version {version})" if version else ""
        if details.get("purpose") == "marketing":
            return f"A visitor agreed to receive marketing e-mails{of}."
        return f"A visitor consented to the privacy policy{of}."
    if name == "retention_purge":
        removed = records_words(details.get("counts"))
        by = {"scheduler": "", "cli": " (run from the command line)"}.get(
            actor or "", f" (run by {actor_words(actor).lower()})" if actor else "")
        if not removed:
            return f"Retention purge found nothing to remove{by}."
        return f"Retention purge removed {removed}{by}."
    if name == "settings_changed":
        keys = details.get("keys") or []
        return (f"{actor_words(actor)} changed "
                f"{_count(len(keys), 'setting', 'settings')}: "
                f"{_and(SETTINGS.get(k, k.lower().replace('_', ' ')) for k in keys)}.")
    words = name.replace("_", " ")
    return f"{actor_words(actor)}: {words}." if actor else words[:1].upper() + words[1:] + "."


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
    return Markup('<code class="gdprchat-admin-ref" title="Keyed reference {}">{}</code>').format(
        ref, ref[:12])


class AuditLogView(ReadOnlyView):
    """The hash-chained audit log, in sentences, with whether the chain still holds."""

    permissions = ("user_data",)
    column_list = ("created_at", "sentence", "subject_ref", "raw")
    column_labels = {"created_at": "When (UTC)", "sentence": "What happened",
                     "subject_ref": "Subject", "raw": "Record"}
    column_sortable_list = ("created_at",)
    column_searchable_list = ("event", "subject_ref")
    search_label = "Search by subject reference or event"
    column_formatters = {
        "created_at": lambda v, c, m, n: _when(m.created_at),
        "sentence": lambda v, c, m, n: sentence(m),
        "subject_ref": lambda v, c, m, n: short_ref(m.subject_ref),
        "raw": lambda v, c, m, n: Markup(
            '<details class="gdprchat-admin-raw"><summary>Raw record #{}</summary>'
            '<pre>{}</pre></details>').format(m.id, raw_record(m)),
    }
    column_default_sort = ("id", True)
    list_template = "gdprchat_admin/audit_list.html"

    def get_empty_list_message(self) -> str:
        return "No event matches this search." if request.args.get("search") else "No events yet."

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
