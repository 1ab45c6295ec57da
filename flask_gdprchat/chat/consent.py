"""Consent records: the proof a site owner shows a regulator (Art. 6, 7).

A record keeps the purpose, the policy version, the exact wording shown, the
language it was shown in and the time; the IP address only when the site opted
in with ``GDPRCHAT_STORE_IP``.
Whether a contact's consent is still current is decided here too: a new policy
version asks a returning visitor to consent again.

The privacy-policy box reads as one line: the consent wording (whose
``%(days)s`` is the anonymous retention in force) and a link named "Privacy
policy". What is recorded is that whole line, as the visitor read it.
"""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.i18n import (
    TRANSLATED_DEFAULTS,
    default_language,
    force_locale,
    gettext,
    languages,
    translate_default,
    visitor_locale,
)
from flask_gdprchat.core.models import ConsentRecord, Contact
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session

PRIVACY_POLICY = "privacy_policy"
MARKETING = "marketing"


def record_consent(contact: Contact, purpose: str, wording: str,
                   locale: str | None = None) -> ConsentRecord:
    """Add a consent record for ``contact`` against the policy version in force.

    ``locale`` is the language ``wording`` was shown in (default: the visitor's).

    Audits it (without personal data) in the caller's transaction; the caller
    commits and then calls :func:`announce` so signals go out only for stored data.
    """
    version = setting("PRIVACY_POLICY_VERSION")
    record = ConsentRecord(
        contact=contact,
        purpose=purpose,
        policy_version=version,
        wording=wording,
        locale=locale or visitor_locale(),
        ip_address=request.remote_addr if setting("STORE_IP") else None,
    )
    session().add(record)
    session().flush()
    audit.record(
        "consent_given",
        ref=audit.ref_for_contact(contact),
        purpose=purpose,
        policy_version=version,
    )
    return record


def announce(records: list[ConsentRecord]) -> None:
    """Send ``consent_given`` for records that are committed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for record in records:
        signals.consent_given.send(
            app,
            contact_id=record.contact_id,
            purpose=record.purpose,
            policy_version=record.policy_version,
        )


def consented_version(contact_id: int) -> str | None:
    """The policy version of the contact's latest privacy-policy consent."""
    return session().scalar(
        select(ConsentRecord.policy_version)
        .where(
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.purpose == PRIVACY_POLICY,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def consent_is_current(contact_id: int) -> bool:
    """True when the contact accepted the policy version now in force."""
    return consented_version(contact_id) == setting("PRIVACY_POLICY_VERSION")


def wording_shown(key: str, language: str) -> tuple[str, str]:
    """The wording of ``CONSENT_TEXT`` or ``MARKETING_CONSENT_TEXT`` a visitor asking
    for ``language`` is shown, and the language it is in.

    A ``{language: text}`` setting gives that language's text (else the default
    language's, else its first); the built-in default is translated (into an
    offered language, else the default one); a site's single text is shown as
    written, for the language asked.
    """
    value = setting(key)
    if isinstance(value, dict):
        for code in (language, default_language()):
            if value.get(code):
                return str(value[code]), code
        code, text = next(iter(value.items()))
        return str(text), str(code)
    if key in TRANSLATED_DEFAULTS and value == TRANSLATED_DEFAULTS[key]:
        with force_locale(language) as shown_in:
            return str(translate_default(key, value)), shown_in
    return str(value), language


#: In a consent wording, the days an anonymous conversation is kept (the setting in force).
DAYS_PLACEHOLDER = "%(days)s"


def fill_wording(text: str) -> str:
    """A wording as shown: ``%(days)s`` becomes ``ANONYMOUS_RETENTION_DAYS`` in force."""
    if DAYS_PLACEHOLDER in text:
        text = text.replace(DAYS_PLACEHOLDER, str(setting("ANONYMOUS_RETENTION_DAYS")))
    return text


def policy_link_label(language: str) -> str:
    """The words of the privacy-policy link beside the box, in ``language``."""
    with force_locale(language):
        return gettext("Privacy policy")


def consent_line(language: str | None = None) -> tuple[str, str, str]:
    """The privacy-policy box's line in ``language`` (default: the visitor's):
    ``(wording, link words, language of the wording)``."""
    if language not in languages():
        language = visitor_locale()
    text, shown_in = wording_shown("CONSENT_TEXT", language)
    return fill_wording(text), policy_link_label(language), shown_in


def shown_wordings(language: str | None = None) -> dict[str, tuple[str, str]]:
    """``{purpose: (wording, language)}`` for ``language`` (default: the visitor's),
    each exactly as the visitor reads it beside its box (the link's words included)."""
    if language not in languages():
        language = visitor_locale()
    text, link, shown_in = consent_line(language)
    return {
        PRIVACY_POLICY: (f"{text} {link}", shown_in),
        MARKETING: wording_shown("MARKETING_CONSENT_TEXT", language),
    }


def consent_wordings(language: str | None = None) -> dict[str, str]:
    """The wordings shown next to each box in ``language`` (default: the visitor's),
    exactly as they are recorded."""
    return {purpose: text for purpose, (text, _shown_in) in shown_wordings(language).items()}
