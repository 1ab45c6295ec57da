"""Outgoing mail over SMTP, through a small outbox.

Mail is written to the outbox in the caller's transaction, then handed to the
SMTP server; delivered mail leaves the table at once. What could not be sent
stays for a retry, and goes with the subject on erasure.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.database import scrub_free_space
from flask_gdprchat.core.models import OutboundMail
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import first_contact_id_for_email

log = logging.getLogger("flask_gdprchat.core.mail")


class MailError(RuntimeError):
    """The SMTP server could not be reached or refused the message."""


class UnbuildableMail(MailError, ValueError):
    """A mail that could never be sent (a header with a line break, for one).

    Raised where the mail is written, so the form that wrote it can say so; such a
    mail never enters the outbox.
    """


#: Failed attempts after which a mail is given up on (kept, marked failed).
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after ``attempts`` failures: 1, 2, 4 ... minutes, at most 6 hours."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def _check_line(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\x00"):
        raise UnbuildableMail(f"the mail's {name} must be one line")


def queue_mail(
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    contact_id: int | None = None,
) -> OutboundMail:
    """Put a message in the outbox (the caller commits, then calls :func:`deliver`).

    Raises :class:`UnbuildableMail` (and queues nothing) for a mail that could
    never be built: a bad one is refused here, not found at sending time.
    """
    _check_line("subject", subject)
    _check_line("address", to)
    if contact_id is None:
        # Mail to a contact's address is that contact's: sealed under its key and
        # erased with it, even when the caller did not say whose it is.
        contact_id = first_contact_id_for_email(to)
    for name, value in (headers or {}).items():
        _check_line(f"{name} header", f"{name}{value}")
    mail = OutboundMail(
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=headers or {},
        contact_id=contact_id,
    )
    try:
        build_message(mail)
    except (ValueError, TypeError) as exc:
        raise UnbuildableMail(f"the mail cannot be built: {exc}") from None
    session().add(mail)
    return mail


def _sender() -> str:
    config = current_app.config
    sender = config.get("MAIL_DEFAULT_SENDER")
    if isinstance(sender, (tuple, list)):
        return formataddr((sender[0], sender[1]))
    return sender or f"no-reply@{config.get('SERVER_NAME') or 'localhost'}"


def build_message(mail: OutboundMail) -> EmailMessage:
    """The MIME message for an outbox entry (plain text, plus HTML when given)."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = _sender()
    message["To"] = mail.to_address
    message["Message-ID"] = make_msgid(domain="gdprchat")
    # RFC 5322 requires it; without it some servers add their own, some mark spam.
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message.set_content(mail.body_text)
    if mail.body_html:
        message.add_alternative(mail.body_html, subtype="html")
    # After the body: setting content drops (and going multipart moves) any
    # Content-* header already there, Content-Language among them.
    for name, value in (mail.headers or {}).items():
        message[name] = value
    return message


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    if config["MAIL_USE_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=10, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=10)
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


#: Every campaign mail carries this header (RFC 8058), and only campaign mail does.
CAMPAIGN_HEADER = "List-Unsubscribe"


def _withdraw_unwanted_campaign_mail(mails: list[OutboundMail]) -> list[OutboundMail]:
    """Drop queued campaign mail whose contact may no longer receive campaigns.

    Mail waits in the outbox while the server is unreachable; an objection or a
    restriction made meanwhile must stop it too (Art. 18, 21). The caller commits.
    """
    from flask_gdprchat.core.eligibility import may_receive_campaigns_clause
    from flask_gdprchat.core.models import Contact

    campaign_mail = [m for m in mails if m.contact_id and CAMPAIGN_HEADER in (m.headers or {})]
    if not campaign_mail:
        return mails
    db = session()
    allowed = set(db.scalars(select(Contact.id).where(
        Contact.id.in_({m.contact_id for m in campaign_mail}), may_receive_campaigns_clause()
    )))
    kept = []
    for mail in mails:
        if mail in campaign_mail and mail.contact_id not in allowed:
            db.delete(mail)
        else:
            kept.append(mail)
    if len(kept) < len(mails):
        db.commit()
    return kept


def _failed(mail: OutboundMail, error: str, *, final: bool = False) -> None:
    """Count a failed attempt: try again after a back-off, or give up for good."""
    now = utcnow()
    mail.attempts = (mail.attempts or 0) + 1
    mail.last_error = error[:255]
    if final or mail.attempts >= MAX_ATTEMPTS:
        mail.failed_at = now
        log.error("mail %s given up after %s attempt(s): %s", mail.id, mail.attempts, error)
    else:
        mail.next_attempt_at = now + retry_delay(mail.attempts)


def due_mail() -> list[OutboundMail]:
    """The outbox entries to try now: not given up on, and past their back-off."""
    now = utcnow()
    return list(session().scalars(
        select(OutboundMail)
        .where(OutboundMail.failed_at.is_(None),
               or_(OutboundMail.next_attempt_at.is_(None), OutboundMail.next_attempt_at <= now))
        .order_by(OutboundMail.id)
    ))


def deliver(mails: list[OutboundMail] | None = None) -> int:
    """Send ``mails`` (default: the outbox entries due now); delivered ones leave it.

    Each mail stands alone: one the server refuses, or one that cannot be built,
    is set aside (retried after a back-off, given up after :data:`MAX_ATTEMPTS`)
    and the others still go. Campaign mail whose contact may no longer receive
    campaigns is withdrawn instead. Returns how many were delivered. Raises
    :class:`MailError` when the server cannot be reached at all.
    """
    db = session()
    mails = due_mail() if mails is None else [m for m in mails if m.failed_at is None]
    mails = _withdraw_unwanted_campaign_mail(mails)
    if not mails:
        return 0
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        for mail in mails:
            _failed(mail, type(exc).__name__)
        db.commit()
        raise MailError(f"cannot reach the mail server: {type(exc).__name__}") from exc
    delivered = 0
    try:
        for mail in mails:
            try:
                message = build_message(mail)
            except (ValueError, TypeError) as exc:
                _failed(mail, f"cannot be built: {type(exc).__name__}", final=True)
                continue
            try:
                smtp.send_message(message)
            except (smtplib.SMTPException, ValueError) as exc:
                _failed(mail, type(exc).__name__)
                log.warning("mail %s refused by the server: %s", mail.id, type(exc).__name__)
                continue
            db.delete(mail)
            delivered += 1
    finally:
        db.commit()
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
    if delivered:
        # Sent mail held addresses and privacy-link tokens: scrub them from the
        # SQLite files too, not just from the table.
        scrub_free_space()
    return delivered


def send_mail(to: str, subject: str, text: str, **kwargs: Any) -> None:
    """Queue one message, commit, and deliver it now. Raises :class:`MailError`."""
    mail = queue_mail(to, subject, text, **kwargs)
    session().commit()
    if deliver([mail]) != 1:
        raise MailError("the mail server refused the message")
