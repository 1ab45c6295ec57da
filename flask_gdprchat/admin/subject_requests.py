"""The dashboard's request tracker (``user_data`` permission): each subject request
with its kind in words, how it came in, its one-month deadline (Art. 12(3)) and
the subject's keyed reference, shortened, which leads to the audit log. No
request names its subject otherwise: not by e-mail, not by name.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from flask_gdprchat.admin.audit_log import audit_search_url, short_ref
from flask_gdprchat.admin.views import ReadOnlyView, _badge, _when
from flask_gdprchat.core.agent_i18n import _a, lazy_agent_gettext
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import SubjectRequest

#: Request kinds as people read them, with the article they exercise.
KINDS = {
    "access": lazy_agent_gettext("Link to their data (access, Art. 15)"),
    "export": lazy_agent_gettext("Copy of their data (access and portability, Art. 15 and 20)"),
    "transcript": lazy_agent_gettext("Transcript by e-mail (access, Art. 15)"),
    "rectify": lazy_agent_gettext("Correction (Art. 16)"),
    "erase": lazy_agent_gettext("Erasure (Art. 17)"),
    "restrict": lazy_agent_gettext("Restriction of processing (Art. 18)"),
    "unrestrict": lazy_agent_gettext("Restriction lifted (Art. 18)"),
    "unsubscribe": lazy_agent_gettext("Objection to marketing (Art. 21)"),
}

#: How a request came in.
CHANNELS = {
    "subject": lazy_agent_gettext("Privacy page"),
    "agent": lazy_agent_gettext("Agent, in the console"),
    "cli": lazy_agent_gettext("Command line"),
    "api": lazy_agent_gettext("Host application"),
    "link": lazy_agent_gettext("Unsubscribe link"),
    "one_click": lazy_agent_gettext("One-click unsubscribe"),
}


def kind_words(kind: str) -> str:
    return str(KINDS.get(kind, kind.replace("_", " ").capitalize()))


def channel_words(channel: str) -> str:
    return str(CHANNELS.get(channel, channel.replace("_", " ").capitalize()))


def _overdue(req: SubjectRequest) -> bool:
    return req.status == "open" and req.due_at is not None and req.due_at < utcnow()


def status_badge(req: SubjectRequest) -> Markup:
    if req.status == "fulfilled":
        return Markup("{} {}").format(_badge(_a("Done"), "ok"), _when(req.fulfilled_at)[:10])
    if _overdue(req):
        return _badge(_a("Overdue"), "danger")
    return _badge(_a("Open"), "warn")


def _due(req: SubjectRequest) -> Any:
    return _when(req.due_at)[:10]


def ref_cell(view: Any, ref: str | None) -> Any:
    """The shortened reference, as a link to this subject's events in the audit log."""
    url = audit_search_url(view, ref)
    if url is None:
        return short_ref(ref)
    return Markup('<a href="{}" aria-label="{}">{}</a>').format(
        url, _a("Audit log of subject %(ref)s", ref=(ref or "")[:12]), short_ref(ref))


def describe_request(view: Any, req: SubjectRequest) -> dict[str, Any]:
    """One request as the screens show it."""
    return {
        "kind": kind_words(req.kind),
        "channel": channel_words(req.channel),
        "received": _when(req.received_at),
        "due": _due(req),
        "status": status_badge(req),
        "subject": ref_cell(view, req.subject_ref),
    }


class SubjectRequestsView(ReadOnlyView):
    """Subject requests with their one-month deadline (Art. 12(3))."""

    permissions = ("user_data",)
    column_list = ("kind", "channel", "received_at", "due_at", "status", "subject_ref")
    column_labels = {"kind": lazy_agent_gettext("Request"),
                     "channel": lazy_agent_gettext("Came in through"),
                     "received_at": lazy_agent_gettext("Received (UTC)"),
                     "due_at": lazy_agent_gettext("Answer by"),
                     "status": lazy_agent_gettext("Status"),
                     "subject_ref": lazy_agent_gettext("Subject")}
    column_sortable_list = ("received_at", "due_at", "status")
    column_formatters = {
        "kind": lambda v, c, m, n: kind_words(m.kind),
        "channel": lambda v, c, m, n: channel_words(m.channel),
        "received_at": lambda v, c, m, n: _when(m.received_at),
        "due_at": lambda v, c, m, n: _due(m),
        "status": lambda v, c, m, n: status_badge(m),
        "subject_ref": lambda v, c, m, n: ref_cell(v, m.subject_ref),
    }
    column_default_sort = ("id", True)

    def get_empty_list_message(self) -> str:
        return _a("No request yet.")


__all__ = ["SubjectRequestsView", "channel_words", "describe_request", "kind_words"]
