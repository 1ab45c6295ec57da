"""Signed, expiring privacy-center links, and the one rule that says when one is dead.

A link carries the id of one of the subject's contacts and a fingerprint of the
subject: a keyed hash of the normalised e-mail together with every contact's id
and ``link_epoch``. The e-mail itself is never put in the URL (URLs end up in
server logs and browser histories). A link dies when it expires, when the
subject is erased (the contacts are gone), when the e-mail changes or when any
``link_epoch`` is bumped.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from flask_gdprchat.core import audit
from flask_gdprchat.core.config import config_value
from flask_gdprchat.core.i18n import _, template_helpers, translate_default, visitor_locale
from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email, normalise_email
from flask_gdprchat.core.urls import external_url

if TYPE_CHECKING:
    from flask_gdprchat.core.models import OutboundMail

log = logging.getLogger("flask_gdprchat.web.privacy")

#: Salt that keeps these signatures useless for any other purpose.
SALT = "gdprchat-privacy-center-link"


class LinkError(Exception):
    """A privacy link that cannot be used; ``status`` is 404 (bad) or 410 (expired/dead)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Subject:
    """The data subject a valid link opens: the e-mail and all its contacts."""

    email: str
    contacts: list[Contact]

    @property
    def ref(self) -> str:
        return audit.subject_ref(self.email)

    @property
    def is_restricted(self) -> bool:
        return any(c.restricted_at is not None for c in self.contacts)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def fingerprint(email: str, contacts: list[Contact]) -> str:
    """A short keyed digest that changes with the e-mail, the contacts or their epochs."""
    parts = [audit.subject_ref(normalise_email(email))]
    parts += [f"{c.id}:{c.link_epoch or 0}" for c in sorted(contacts, key=lambda c: c.id)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]


def make_token(email: str) -> str | None:
    """A fresh link token for the subject with ``email``, or None if none is held."""
    contacts = contacts_for_email(email)
    if not contacts:
        return None
    return _serializer().dumps([contacts[0].id, fingerprint(email, contacts)])


def link_url(token: str, language: str | None = None) -> str:
    """The absolute URL of the subject's page for ``token`` (in ``language``, if given)."""
    extra = {"lang": language} if language else {}
    return external_url("gdprchat.privacy.subject_page", token=token, **extra)


def resolve(token: str) -> Subject:
    """The subject a token opens; raises :class:`LinkError` for a bad or dead link."""
    if not token or len(token) > 400:
        raise LinkError(_("This privacy link is not valid."), 404)
    try:
        payload = _serializer().loads(token, max_age=config_value("TOKEN_MAX_AGE"))
    except SignatureExpired:
        raise LinkError(_("This privacy link has expired."), 410) from None
    except BadSignature:
        raise LinkError(_("This privacy link is not valid."), 404) from None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise LinkError(_("This privacy link is not valid."), 404)
    contact_id, signed_print = payload
    contact = session().get(Contact, contact_id)
    if contact is None or not contact.email:
        raise LinkError(_("This privacy link no longer works."), 410)
    contacts = contacts_for_email(contact.email)
    if fingerprint(contact.email, contacts) != signed_print:
        raise LinkError(_("This privacy link no longer works."), 410)
    return Subject(email=normalise_email(contact.email), contacts=contacts)




def queue_link_mail(email: str) -> OutboundMail | None:
    """Put the mail carrying a fresh link for ``email`` in the outbox (caller commits).

    Returns None, and queues nothing, when no data is held for the address. The
    mail names the subject's contact so that it goes with an erasure.
    """
    from flask import render_template

    from flask_gdprchat.core.mail import queue_mail

    contacts = contacts_for_email(email)
    token = make_token(email)
    if token is None:
        return None
    # Written in the language of the page the link was asked for on.
    language = visitor_locale()
    controller = translate_default("CONTROLLER_NAME", config_value("CONTROLLER_NAME"))
    context = {
        **template_helpers(),
        "lang": language,
        "link": link_url(token, language),
        "hours": max(1, config_value("TOKEN_MAX_AGE") // 3600),
        "controller_name": controller,
    }
    return queue_mail(
        normalise_email(email),
        _("Your data at %(controller)s", controller=controller),
        render_template("gdprchat/mail/privacy_link.txt", **context),
        html=render_template("gdprchat/mail/privacy_link.html", **context),
        headers={"Content-Language": language},
        contact_id=contacts[0].id,
    )


def deliver_after_response(response: Any, mail: OutboundMail | None) -> None:
    """Hand ``mail`` to the SMTP server once ``response`` is sent.

    Sending after the answer keeps the answer's timing the same whether or not a
    mail goes out, so response times do not reveal which addresses are known.
    A mail that cannot be delivered stays in the outbox for a retry.
    """
    if mail is None:
        return
    from flask_gdprchat.core.mail import MailError, deliver
    from flask_gdprchat.core.models import OutboundMail

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    mail_id = mail.id

    def send() -> None:
        with app.app_context():
            pending = session().get(OutboundMail, mail_id)
            if pending is None:
                return
            try:
                deliver([pending])
            except MailError:
                log.warning("a privacy-link mail could not be delivered; it stays queued")

    response.call_on_close(send)


__all__ = [
    "LinkError",
    "Subject",
    "fingerprint",
    "make_token",
    "link_url",
    "resolve",
    "queue_link_mail",
    "deliver_after_response",
]
