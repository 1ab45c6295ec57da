"""Campaigns: manual and automatic messages to contacts who opted in to marketing.

Who may receive one is decided by :mod:`flask_gdprchat.rights.objection` alone
(marketing consent, not unsubscribed, not restricted). Each delivery is recorded
before the message leaves, so an automatic campaign never reaches a contact
twice, even when two processes run it at once (the unique index refuses the
second row). E-mail goes through the outbox; chat goes to the contact's latest
conversation as a system notice.

Unsubscribe links are absolute URLs. Inside a request they use its host; from
the command line or the scheduler, set Flask's ``SERVER_NAME`` (and
``PREFERRED_URL_SCHEME``) so that links point at the site; without it they
fall back to ``localhost``.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.eligibility import may_receive_campaigns, may_receive_campaigns_clause
from flask_gdprchat.core.i18n import _, force_locale, language_of, template_helpers
from flask_gdprchat.core.mail import CAMPAIGN_HEADER, MailError, deliver, queue_mail
from flask_gdprchat.core.models import (
    Campaign,
    CampaignDelivery,
    Contact,
    Conversation,
    OutboundMail,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.core.urls import NoPublicUrl, can_build_links, external_url

log = logging.getLogger("flask_gdprchat.chat.campaigns")

CHANNELS = ("email", "chat")
KINDS = ("manual", "automatic")
#: Unsubscribe links keep working this long (mail is read late, and must still opt out).
UNSUBSCRIBE_MAX_AGE = 2 * 365 * 24 * 3600
_SALT = "gdprchat-unsubscribe"
UNSUBSCRIBE_ENDPOINT = "gdprchat.unsubscribe.confirm"


class CampaignError(ValueError):
    """A campaign that cannot be saved or sent; the message says why."""


class BadUnsubscribeToken(ValueError):
    """An unsubscribe link that is forged, mangled or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


# -- unsubscribe links -------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(contact_id: int) -> str:
    """A signed token naming one contact, for its unsubscribe link."""
    return _serializer().dumps({"c": contact_id})


def contact_id_from_token(token: str) -> int:
    """The contact id a token names; raises :class:`BadUnsubscribeToken`."""
    try:
        data = _serializer().loads(token, max_age=UNSUBSCRIBE_MAX_AGE)
    except SignatureExpired:
        raise BadUnsubscribeToken(_("this unsubscribe link has expired"), expired=True) from None
    except BadSignature:
        raise BadUnsubscribeToken(_("this unsubscribe link is not valid")) from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise BadUnsubscribeToken(_("this unsubscribe link is not valid"))
    return data["c"]


def unsubscribe_url(contact_id: int) -> str:
    """The absolute unsubscribe link of a contact, inside a request or not."""
    return external_url(UNSUBSCRIBE_ENDPOINT, token=unsubscribe_token(contact_id))


# -- who receives a campaign -----------------------------------------------------------


def eligible_contacts_query(campaign: Campaign) -> Any:
    """Contacts this campaign may reach now and has not reached yet."""
    already = select(CampaignDelivery.contact_id).where(
        CampaignDelivery.campaign_id == campaign.id
    )
    query = select(Contact).where(may_receive_campaigns_clause(), Contact.id.not_in(already))
    if campaign.channel == "email":
        # Sealed addresses are known by their blind index; unsealed ones (stored
        # before encryption) by their plain value.
        query = query.where(or_(Contact.email_index.is_not(None),
                                and_(Contact.email.is_not(None), Contact.email != "")))
    else:
        query = query.where(
            select(Conversation.id).where(Conversation.contact_id == Contact.id).exists()
        )
    return query.order_by(Contact.id)


def _first_chat_before(cutoff: dt.datetime) -> Any:
    first_chat = (
        select(func.min(Conversation.created_at))
        .where(Conversation.contact_id == Contact.id)
        .scalar_subquery()
    )
    return first_chat <= cutoff


# -- sending -------------------------------------------------------------------------------


def check_campaign(campaign: Campaign) -> None:
    """Raise :class:`CampaignError` when a campaign's fields do not make sense."""
    if not (campaign.name or "").strip():
        raise CampaignError("the campaign needs a name")
    if not (campaign.subject or "").strip():
        raise CampaignError("the campaign needs a subject")
    if any(c in campaign.subject for c in "\r\n\x00") or len(campaign.subject) > 255:
        # A mail header: one line, or the message cannot be built at all.
        raise CampaignError("the subject must be one line of at most 255 characters")
    if not (campaign.body or "").strip():
        raise CampaignError("the campaign needs a message")
    if campaign.channel not in CHANNELS:
        raise CampaignError(f"the channel must be one of {', '.join(CHANNELS)}")
    if campaign.kind not in KINDS:
        raise CampaignError(f"the kind must be one of {', '.join(KINDS)}")
    if campaign.kind == "automatic" and (campaign.delay_days is None or campaign.delay_days < 0):
        raise CampaignError("an automatic campaign needs a delay of 0 or more days")


def _mail_context(campaign: Campaign, link: str, language: str) -> dict[str, Any]:
    return {"campaign": campaign, "unsubscribe_url": link, "lang": language, **template_helpers()}


def _notice_text(campaign: Campaign) -> str:
    """What a chat campaign posts into the contact's conversation."""
    return f"{campaign.subject}\n\n{campaign.body}"


#: Stands in for each recipient's own unsubscribe link in a preview.
PREVIEW_UNSUBSCRIBE_LINK = "(each recipient's own unsubscribe link)"


def preview(campaign: Campaign, language: str | None = None) -> str:
    """The campaign as a recipient reads it: the e-mail's text with its footer (in
    ``language``, else the default one), or the chat notice. Sends nothing."""
    if campaign.channel != "email":
        return _notice_text(campaign)
    with force_locale(language) as chosen:
        context = _mail_context(campaign, PREVIEW_UNSUBSCRIBE_LINK, chosen)
        return render_template("gdprchat/mail/campaign.txt", **context)


def count_recipients(campaign: Campaign) -> int:
    """How many contacts :func:`send_campaign` would reach now (the one rule)."""
    query = eligible_contacts_query(campaign).order_by(None).subquery()
    return int(session().scalar(select(func.count()).select_from(query)) or 0)


def count_reached(campaign: Campaign) -> int:
    """How many contacts the campaign has reached so far."""
    return int(session().scalar(
        select(func.count()).select_from(CampaignDelivery)
        .where(CampaignDelivery.campaign_id == campaign.id)
    ) or 0)


def _email(campaign: Campaign, contact: Contact) -> OutboundMail:
    link = unsubscribe_url(contact.id)
    # The footer is in the language the contact consented in.
    with force_locale(language_of(contact)) as language:
        context = _mail_context(campaign, link, language)
        text = render_template("gdprchat/mail/campaign.txt", **context)
        html = render_template("gdprchat/mail/campaign.html", **context)
    return queue_mail(
        contact.email or "",
        campaign.subject,
        text,
        html=html,
        headers={
            CAMPAIGN_HEADER: f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Content-Language": language,
        },
        contact_id=contact.id,
    )


def _latest_conversation_id(contact: Contact) -> int | None:
    return session().scalar(
        select(Conversation.id)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def _send_to(campaign: Campaign, contacts: list[Contact]) -> int:
    """Record a delivery per contact and send; returns how many were reached."""
    db = session()
    mails: list[OutboundMail] = []
    notices: list[int] = []
    reached = 0
    for contact in contacts:
        # Checked again per contact on a fresh read (the loaded rows may be stale:
        # an unsubscribe or a restriction committed meanwhile must win).
        db.refresh(contact)
        if not may_receive_campaigns(contact):
            continue
        try:
            with db.begin_nested():
                db.add(CampaignDelivery(
                    campaign_id=campaign.id, contact_id=contact.id, channel=campaign.channel
                ))
        except IntegrityError:
            continue  # another process reached this contact first
        if campaign.channel == "email":
            mails.append(_email(campaign, contact))
        else:
            conversation_id = _latest_conversation_id(contact)
            if conversation_id is None:
                continue
            notices.append(conversation_id)
        reached += 1
    db.commit()
    for conversation_id in notices:
        from flask_gdprchat.chat.conversations import post_notice

        post_notice(conversation_id, _notice_text(campaign))
    if mails:
        try:
            delivered = deliver(mails)
        except MailError as exc:
            # The mail stays in the outbox for the next delivery run.
            log.warning("campaign %s: %s", campaign.id, exc)
            delivered = 0
        # A mail counts as sent once the SMTP server took it, not when queued.
        reached -= len(mails) - delivered
    return reached


def send_campaign(campaign: Campaign) -> int:
    """Send a manual campaign now to every eligible contact not yet reached.

    Refused before anything is written when its mail could not carry a working
    unsubscribe link (see :mod:`flask_gdprchat.core.urls`).
    """
    check_campaign(campaign)
    if campaign.channel == "email" and not can_build_links():
        raise CampaignError(str(NoPublicUrl()))
    db = session()
    if campaign.id is None:
        db.add(campaign)
        db.flush()
    contacts = list(db.scalars(eligible_contacts_query(campaign)))
    campaign.sent_at = utcnow()
    return _send_to(campaign, contacts)


def create_and_send(subject: str, body: str, *, channel: str = "email") -> tuple[Campaign, int]:
    """A manual campaign made and sent at once (the ``send-campaign`` command)."""
    campaign = Campaign(
        name=subject.strip(), subject=subject.strip(), body=body, channel=channel, kind="manual"
    )
    return campaign, send_campaign(campaign)


def run_automatic_campaigns(now: dt.datetime | None = None) -> int:
    """Send each active automatic campaign to contacts whose first chat was at
    least ``delay_days`` ago and who have not had it yet. Returns deliveries made."""
    now = now or utcnow()
    db = session()
    campaigns = list(db.scalars(
        select(Campaign)
        .where(Campaign.kind == "automatic", Campaign.is_active.is_(True))
        .order_by(Campaign.id)
    ))
    total = 0
    for campaign in campaigns:
        if campaign.delay_days is None:
            continue
        if campaign.channel == "email" and not can_build_links():
            # Nothing goes out without a working unsubscribe link; say why, once a run.
            log.error("automatic campaign %s not sent: %s", campaign.id, NoPublicUrl())
            continue
        cutoff = now - dt.timedelta(days=campaign.delay_days)
        contacts = list(db.scalars(
            eligible_contacts_query(campaign).where(_first_chat_before(cutoff))
        ))
        if contacts:
            total += _send_to(campaign, contacts)
    return total


__all__ = [
    "BadUnsubscribeToken",
    "CampaignError",
    "contact_id_from_token",
    "count_reached",
    "count_recipients",
    "create_and_send",
    "eligible_contacts_query",
    "preview",
    "run_automatic_campaigns",
    "send_campaign",
    "unsubscribe_token",
    "unsubscribe_url",
]
