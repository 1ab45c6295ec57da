"""The self-service privacy center: what is collected, and each right, for the subject.

``P/privacy`` informs (Art. 13) and takes requests for a link. Everything behind
a link acts only on POST (mail scanners open links), and every page here is sent
with ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from flask_gdprchat.core import audit
from flask_gdprchat.core.agent_names import public_names
from flask_gdprchat.core.config import PRECHAT_FIELD_CHOICES, config_value
from flask_gdprchat.core.csrf import protect
from flask_gdprchat.core.i18n import (
    _,
    field_label,
    ngettext,
    page_context,
    translate_default,
    url_for_page,
)
from flask_gdprchat.core.models import Contact, Conversation, Message
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session
from flask_gdprchat.core.throttle import allow
from flask_gdprchat.rights import links
from flask_gdprchat.rights.erasure import erase_contacts
from flask_gdprchat.rights.export import FORMATS, export_response
from flask_gdprchat.rights.links import LinkError, Subject
from flask_gdprchat.rights.objection import unsubscribe
from flask_gdprchat.rights.rectification import EMAIL_RE, clean_rectification, rectify
from flask_gdprchat.rights.requests import fulfil, open_request
from flask_gdprchat.rights.restriction import grace_ends_at, set_restriction
from flask_gdprchat.rights.subject import RightsError
from flask_gdprchat.rights.transcript import send_subject_transcript

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
protect(bp)
# Every page here is in the visitor's language, with a switch to the others.
bp.context_processor(page_context)

#: Messages shown per conversation on the page; the export holds them all.
PAGE_MESSAGES = 200


@bp.after_request
def _private_headers(response: Any) -> Any:
    # Links carry a token: never leak it in a Referer, never keep a copy in a cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def policy_url() -> str:
    """The privacy policy in force: the configured URL or the built-in page."""
    return setting("PRIVACY_POLICY_URL") or url_for_page("gdprchat.privacy.policy")


def _info() -> dict[str, Any]:
    """What the information pages say, from the settings in force now."""
    return {
        "controller_name": translate_default("CONTROLLER_NAME", config_value("CONTROLLER_NAME")),
        "controller_email": config_value("CONTROLLER_EMAIL"),
        "anonymous_days": setting("ANONYMOUS_RETENTION_DAYS"),
        "identified_days": setting("IDENTIFIED_RETENTION_DAYS"),
        "grace_days": setting("RESTRICTED_GRACE_DAYS"),
        "policy_url": policy_url(),
        "policy_version": setting("PRIVACY_POLICY_VERSION"),
        "prechat_fields": [field_label(f) for f in PRECHAT_FIELD_CHOICES
                           if f in setting("PRECHAT_FIELDS")],
        "store_ip": config_value("STORE_IP"),
    }


@bp.get("")
def index() -> Any:
    """Art. 13 information and the form to ask for one's data."""
    return render_template("gdprchat/privacy/index.html", **_info())


@bp.get("/policy")
def policy() -> Any:
    """The built-in privacy policy (the default policy URL)."""
    return render_template("gdprchat/privacy/policy.html", **_info())


@bp.get("/request")
def request_form() -> Any:
    """The request form lives on the index page; this URL only takes POSTs."""
    return redirect(url_for("gdprchat.privacy.index") + "#request")


@bp.post("/request")
def request_link() -> Any:
    """Send a link to a known address. The answer never tells whether it is known."""
    email = (request.form.get("email") or "").strip()
    if not email or len(email) > 320 or not EMAIL_RE.match(email):
        page = render_template("gdprchat/privacy/index.html", request_error=(
            _("Enter the e-mail address you gave in the chat.")), email=email[:320], **_info())
        return page, 400
    mail = None
    if allow("privacy_link", email, limit=config_value("LINK_REQUESTS_PER_HOUR"),
             window=dt.timedelta(hours=1)):
        ref = audit.subject_ref(email)
        tracked = open_request("access", ref=ref, channel="subject")
        mail = links.queue_link_mail(email)
        fulfil(tracked)
        if mail is None:
            tracked.status = "no_data"
        audit.record("access_link_requested", ref=ref, actor="subject", found=mail is not None)
    session().commit()
    response = make_response(render_template("gdprchat/privacy/request_sent.html", **_info()))
    links.deliver_after_response(response, mail)
    return response


# -- behind a link ---------------------------------------------------------------------


def _link_error(error: LinkError) -> Any:
    return make_response(render_template(
        "gdprchat/privacy/link_invalid.html", message=str(error), **_info()
    ), error.status)


def _subject(token: str) -> Subject:
    try:
        return links.resolve(token)
    except LinkError as error:
        abort(_link_error(error))


def _recent_messages(conversation: Conversation, contact: Contact) -> list[dict[str, Any]]:
    rows = session().scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id.desc())
        .limit(PAGE_MESSAGES)
    ).all()
    agents = public_names(m.agent_id for m in rows)
    return [
        {
            "author": m.author,
            "author_name": agents.get(m.agent_id or 0) if m.author == "agent"
            else (contact.name or _("You")) if m.author == "visitor" else _("Notice"),
            "text": m.text,
            "created_at": m.created_at,
            "edited": m.edited_at is not None,
        }
        for m in reversed(rows)
    ]


def _render_subject(token: str, subject: Subject, *, error: str | None = None,
                    status: int = 200) -> Any:
    contacts = subject.contacts
    conversations = []
    for contact in contacts:
        for conversation in session().scalars(
            select(Conversation).where(Conversation.contact_id == contact.id)
            .order_by(Conversation.id.desc())
        ):
            conversations.append({
                "id": conversation.id,
                "created_at": conversation.created_at,
                "status": conversation.status,
                "messages": _recent_messages(conversation, contact),
            })
    current = {
        name: next((getattr(c, name) for c in contacts if getattr(c, name)), "") or ""
        for name in ("name", "email", "company", "phone")
    }
    grace = grace_ends_at(contacts)
    return render_template(
        "gdprchat/privacy/subject.html",
        token=token,
        subject=subject,
        contacts=contacts,
        current=current,
        consents=[r for c in contacts for r in c.consents],
        conversations=conversations,
        restricted=subject.is_restricted,
        grace_ends=grace,
        unsubscribed=all(c.unsubscribed_at is not None or not c.marketing_consent
                         for c in contacts),
        formats=FORMATS,
        error=error,
        page_messages=PAGE_MESSAGES,
        **_info(),
    ), status


def _back(token: str, message: str, category: str = "message") -> Any:
    flash(message, category)
    return redirect(url_for_page("gdprchat.privacy.subject_page", token=token), code=303)


@bp.get("/<token>")
def subject_page(token: str) -> Any:
    """The subject's own page: their data and every action (GET changes nothing)."""
    return _render_subject(token, _subject(token))


@bp.get("/<token>/export.<fmt>")
def export(token: str, fmt: str) -> Any:
    """All the subject's data as a download (logged and audited, changes no data)."""
    if fmt not in FORMATS:
        abort(404)
    subject = _subject(token)
    return export_response(subject.email, fmt, "subject", subject.contacts)


@bp.get("/<token>/confirm-erase")
def confirm_erase(token: str) -> Any:
    """The confirmation step before erasure (the erase itself is a POST)."""
    subject = _subject(token)
    return render_template("gdprchat/privacy/confirm_erase.html", token=token, subject=subject,
                           **_info())


@bp.post("/<token>/transcript")
def transcript(token: str) -> Any:
    """E-mail the full transcript to the subject's address."""
    subject = _subject(token)
    try:
        count = send_subject_transcript(subject.contacts, channel="subject")
    except RightsError as error:
        return _render_subject(token, subject, error=str(error), status=error.status)
    return _back(token, ngettext("We sent the transcript of %(num)s conversation to your address.",
                                 "We sent the transcript of %(num)s conversations to your address.",
                                 count))


@bp.post("/<token>/rectify")
def rectify_view(token: str) -> Any:
    """Correct name, e-mail, company, phone."""
    subject = _subject(token)
    try:
        changed = rectify(subject.contacts, clean_rectification(request.form), channel="subject")
    except RightsError as error:
        return _render_subject(token, subject, error=str(error), status=error.status)
    if "email" in changed:
        # The old link died with the old address: send a fresh one to the new one.
        new_email = request.form["email"].strip().lower()
        mail = links.queue_link_mail(new_email)
        session().commit()
        response = make_response(render_template("gdprchat/privacy/email_changed.html",
                                                  **_info()))
        links.deliver_after_response(response, mail)
        return response
    if not changed:
        return _back(token, _("Nothing changed."))
    return _back(token, _("Your details are corrected: %(fields)s.",
                          fields=", ".join(field_label(name) for name in changed)))


@bp.post("/<token>/erase")
def erase(token: str) -> Any:
    """Erase everything, immediately and permanently."""
    subject = _subject(token)
    erase_contacts(subject.contacts, channel="subject")
    return render_template("gdprchat/privacy/erased.html", **_info())


@bp.post("/<token>/restrict")
def restrict(token: str) -> Any:
    """Freeze the data: kept, but no chats, campaigns or edits."""
    subject = _subject(token)
    set_restriction(subject.contacts, True, channel="subject")
    return _back(token, _("Processing of your data is restricted. Nothing is deleted or changed."))


@bp.post("/<token>/unrestrict")
def unrestrict(token: str) -> Any:
    """Lift the restriction within the grace period."""
    subject = _subject(token)
    try:
        set_restriction(subject.contacts, False, channel="subject")
    except RightsError as error:
        return _render_subject(token, subject, error=str(error), status=error.status)
    return _back(token, _("The restriction is lifted."))


@bp.post("/<token>/unsubscribe")
def unsubscribe_view(token: str) -> Any:
    """Stop every campaign, e-mail and chat."""
    subject = _subject(token)
    unsubscribe(subject.contacts, channel="subject")
    return _back(token, _("You will receive no more campaigns from us."))
