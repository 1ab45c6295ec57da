"""The dashboard's campaigns (``settings`` permission): the list, the form, and the
page that sends a manual campaign.

Sending has a page of its own: GET shows the campaign, how many contacts it would
reach now (counted by :func:`flask_gdprchat.chat.campaigns.count_recipients`, the
same rule the sender applies) and the mail as they will read it; only a POST with
the form's CSRF token sends it.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request
from flask_admin import expose
from wtforms.validators import ValidationError

from flask_gdprchat.admin.forms import CampaignForm
from flask_gdprchat.admin.views import GuardedModelView, _when
from flask_gdprchat.chat.campaigns import (
    CampaignError,
    check_campaign,
    count_reached,
    count_recipients,
    preview,
    send_campaign,
)
from flask_gdprchat.core.agent_i18n import _a, agent_ngettext, lazy_agent_gettext
from flask_gdprchat.core.csrf import check_csrf
from flask_gdprchat.core.i18n import default_language, language_name
from flask_gdprchat.core.models import Campaign, row_id
from flask_gdprchat.core.state import session
from flask_gdprchat.core.urls import NoPublicUrl, can_build_links

CHANNEL_WORDS = {"email": lazy_agent_gettext("E-mail"), "chat": lazy_agent_gettext("Chat notice")}
KIND_WORDS = {"manual": lazy_agent_gettext("Manual"), "automatic": lazy_agent_gettext("Automatic")}


def _kind(view: Any, context: Any, campaign: Campaign, name: str) -> str:
    if campaign.kind == "automatic":
        days = campaign.delay_days or 0
        return agent_ngettext("Automatic, %(num)s day after the first chat",
                              "Automatic, %(num)s days after the first chat", days)
    return str(KIND_WORDS.get(campaign.kind, campaign.kind))


class CampaignsView(GuardedModelView):
    """Campaigns; only contacts with marketing consent, not unsubscribed or restricted."""

    permissions = ("settings",)
    column_list = ("name", "channel", "kind", "is_active", "sent_at", "reached")
    column_labels = {"name": lazy_agent_gettext("Name"), "channel": lazy_agent_gettext("Channel"),
                     "kind": lazy_agent_gettext("Kind"), "is_active": lazy_agent_gettext("Active"),
                     "sent_at": lazy_agent_gettext("Last sent"),
                     "reached": lazy_agent_gettext("Reached")}
    column_formatters = {
        "channel": lambda v, c, m, n: str(CHANNEL_WORDS.get(m.channel, m.channel)),
        "kind": _kind,
        "is_active": lambda v, c, m, n: _a("Yes") if m.is_active else _a("No"),
        "sent_at": lambda v, c, m, n: _when(m.sent_at) or _a("Not yet"),
        "reached": lambda v, c, m, n: count_reached(m),
    }
    column_default_sort = ("id", True)
    create_label = lazy_agent_gettext("New campaign")
    delete_confirmation = lazy_agent_gettext("Delete this campaign? Contacts it reached are "
                                             "not told.")

    def get_create_form(self) -> Any:
        return CampaignForm

    def get_edit_form(self) -> Any:
        return CampaignForm

    def row_title(self, row: Campaign) -> str:
        return row.name

    def row_links(self, row: Campaign) -> list[tuple[str, str]]:
        if row.kind != "manual":
            return []
        return [(_a("Send…"), self.get_url(".send_view", campaign_id=row.id))]

    def on_model_change(self, form: Any, model: Campaign, is_created: bool) -> None:
        if model.kind == "manual":
            model.delay_days = None
        try:
            check_campaign(model)
        except CampaignError as exc:
            raise ValidationError(str(exc)) from None

    @expose("/send/<campaign_id>/", methods=("GET", "POST"))
    def send_view(self, campaign_id: str) -> Any:
        """GET: what would be sent to whom. POST (with the CSRF token): send it now."""
        number = row_id(campaign_id)
        campaign = session().get(Campaign, number) if number else None
        if campaign is None:
            abort(404, description=_a("There is no such campaign."))
        problem = _why_not(campaign)
        if request.method == "POST":
            check_csrf()
            if problem is None:
                try:
                    reached = send_campaign(campaign)
                except CampaignError as exc:
                    session().rollback()
                    problem = _a("Nothing was sent: %(reason)s.", reason=exc)
                else:
                    flash(agent_ngettext("'%(name)s' was sent and reached %(num)s contact.",
                                         "'%(name)s' was sent and reached %(num)s contacts.",
                                         reached, name=campaign.name), "success")
                    return redirect(self.get_url(".index_view"))
            flash(problem, "error")
        language = default_language()
        return self.render(
            "gdprchat_admin/campaign_send.html",
            campaign=campaign,
            channel=str(CHANNEL_WORDS.get(campaign.channel, campaign.channel)),
            recipients=count_recipients(campaign),
            reached=count_reached(campaign),
            sent_at=_when(campaign.sent_at),
            preview=preview(campaign, language),
            language=language_name(language),
            problem=problem,
        ), (400 if request.method == "POST" else 200)


def _why_not(campaign: Campaign) -> str | None:
    """Why this campaign cannot be sent from here now, in words; None if it can."""
    if campaign.kind != "manual":
        return agent_ngettext(
            "This campaign is automatic: the scheduler sends it to each contact %(num)s day "
            "after their first chat.",
            "This campaign is automatic: the scheduler sends it to each contact %(num)s days "
            "after their first chat.", campaign.delay_days or 0)
    if campaign.channel == "email" and not can_build_links():
        return _a("E-mails cannot be sent yet: %(reason)s.", reason=NoPublicUrl())
    try:
        check_campaign(campaign)
    except CampaignError as exc:
        return _a("Correct the campaign first: %(reason)s.", reason=exc)
    return None
