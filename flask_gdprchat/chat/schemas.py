"""Validation of what the widget sends (and of what the host says about its user).

Nothing is stored unless all of it passes. Every message a visitor can read is
in our words: validators translate as they run (in the request), and the fixed
field messages are catalog msgids (marked with ``N_``) that the API translates
when it answers. Marshmallow's own English defaults are replaced field by field.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from flask_gdprchat.core.config import PRECHAT_FIELD_CHOICES
from flask_gdprchat.core.i18n import N_, _, languages
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.text import is_storable_text

log = logging.getLogger("flask_gdprchat")

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{2,40}$")

#: What any field says when it is missing, null or refused by a validator.
_COMMON = {
    "required": N_("This field is required."),
    "null": N_("This field may not be empty."),
    "validator_failed": N_("This value is not valid."),
}
CONSENT_MISSING = N_("Tick the box to accept the privacy policy.")
OFFLINE_EMAIL_MISSING = N_("Enter the e-mail address we should answer to.")


def _messages(**specific: str) -> dict[str, Any]:
    return {**_COMMON, **specific}


def _longest(max_length: int) -> Any:
    def check(value: Any) -> None:
        if isinstance(value, str) and len(value) > max_length:
            raise ValidationError(_("Use at most %(max)s characters.", max=max_length))

    return check


def _phone(value: Any) -> None:
    if isinstance(value, str) and not _PHONE_RE.match(value):
        raise ValidationError(_("Enter a phone number, digits only."))


def _accepted(value: Any) -> None:
    if value is not True:
        raise ValidationError(_(CONSENT_MISSING))


def _policy_version(value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValidationError(_("Send the policy version shown."))


def _storable(value: Any) -> None:
    if isinstance(value, str) and not is_storable_text(value):
        raise ValidationError(_("Remove the control or invalid characters."))


def _offered_language(value: Any) -> None:
    if value not in languages():
        raise ValidationError(_("Use one of the languages this site offers: %(languages)s.",
                                languages=", ".join(languages())))


def _string(**kwargs: Any) -> fields.String:
    return fields.String(error_messages=_messages(invalid=N_("Enter text.")), **kwargs)


class _JsonBool(fields.Boolean):
    """JSON ``true`` or ``false`` and nothing else.

    ``truthy={True}`` alone is not enough: ``1 == 1.0 == True`` in Python, so the
    set lookup would take ``1`` and ``1.0`` as a tick in the box.
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if value is not True and value is not False:
            raise self.make_error("invalid", input=value)
        return value


def _strict_bool(**kwargs: Any) -> fields.Boolean:
    # JSON true/false only: "yes" or 1 is not a tick in a box.
    return _JsonBool(truthy={True}, falsy={False},
                     error_messages=_messages(invalid=N_("Send true or false.")), **kwargs)


def _text(max_length: int) -> fields.String:
    # Trimmed before the length check; blank counts as not given.
    return _string(allow_none=True, validate=[_longest(max_length), _storable], load_default=None)


class _Schema(Schema):
    """Our schemas' own wording for unknown fields and a body of the wrong type."""

    error_messages = {
        "unknown": N_("This field is not accepted."),
        "type": N_("Send a JSON object."),
    }


class ReconsentSchema(_Schema):
    """Consent to the policy in force (a returning visitor's renewal, and every new chat)."""

    class Meta:
        unknown = RAISE

    consent = _JsonBool(
        truthy={True}, falsy={False}, required=True,
        validate=_accepted,
        error_messages=_messages(required=CONSENT_MISSING, invalid=N_("Send true or false.")),
    )
    marketing_consent = _strict_bool(load_default=False)
    policy_version = _string(required=True, validate=[_policy_version, _storable])
    #: The language the widget showed the wording in; one of ``GDPRCHAT_LANGUAGES``.
    locale = _string(load_default=None, validate=_offered_language)


class ContactFieldsSchema(_Schema):
    """A contact's details, as the pre-chat form and the host's identity give them."""

    name = _text(255)
    email = fields.Email(allow_none=True, validate=[_longest(320), _storable], load_default=None,
                         error_messages=_messages(invalid=N_("Enter a valid e-mail address.")))
    company = _text(255)
    phone = _string(allow_none=True, validate=[_longest(64), _phone], load_default=None)


class PrechatSchema(ReconsentSchema, ContactFieldsSchema):
    """The pre-chat form: the visitor's details, consent and the policy version."""


class OfflineMessageSchema(ReconsentSchema):
    """A message left while nobody can answer: consent as for a chat, and the address
    the answer goes to. The text is checked (and masked) like a chat message, by
    :func:`flask_gdprchat.chat.conversations.prepare_text`."""

    class Meta:
        unknown = RAISE

    name = _text(255)
    email = fields.Email(
        required=True, validate=[_longest(320), _storable],
        error_messages=_messages(invalid=N_("Enter a valid e-mail address."),
                                 required=OFFLINE_EMAIL_MISSING, null=OFFLINE_EMAIL_MISSING),
    )
    text = fields.Raw(required=True, error_messages=_messages(required=N_("Write your message.")))


class _ExternalId(fields.Field):
    """The host's id for its user: text or a whole number, kept as text."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Not a text or a whole number.")
        return value.strip()


class IdentitySchema(ContactFieldsSchema):
    """What ``identify_visitor`` returns; keys other than these are ignored."""

    class Meta:
        unknown = EXCLUDE

    external_id = _ExternalId(required=True, validate=[validate.Length(max=255), _storable])


def _blank_to_none(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    cleaned = dict(data)
    for key in PRECHAT_FIELD_CHOICES:
        value = cleaned.get(key)
        if isinstance(value, str):
            value = value.strip()
            cleaned[key] = value or None
    return cleaned


def load_prechat(data: Any, *, identified: bool = False) -> dict[str, Any]:
    """The validated pre-chat form, or ``ValidationError`` naming each bad field.

    Only the fields the form offers (``PRECHAT_FIELDS``, as in force now) are
    accepted, and the required ones must be filled; a host-identified visitor
    gives no fields at all.
    """
    if not isinstance(data, dict):
        raise ValidationError({"_schema": [N_("Send a JSON object.")]})
    loaded = PrechatSchema().load(_blank_to_none(data))
    offered = set() if identified else set(setting("PRECHAT_FIELDS"))
    required = set() if identified else set(setting("PRECHAT_REQUIRED"))
    errors: dict[str, list[str]] = {}
    for key in PRECHAT_FIELD_CHOICES:
        if loaded.get(key) is not None and key not in offered:
            errors[key] = [_("This field is not asked for.")]
        elif key in required and not loaded.get(key):
            errors[key] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    return loaded


def load_identity(raw: Any) -> dict[str, Any] | None:
    """The host's signed-in user as a clean identity, or None if it names nobody usable.

    Needs a mapping with an ``external_id``; without a usable one the visitor
    is not identified. A detail that is not valid (an e-mail that is no
    address, a name that is not text) is left out. The log names the keys at
    fault, never their values.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        log.warning("identify_visitor returned a %s, not a dict; the visitor is not identified",
                    type(raw).__name__)
        return None
    try:
        identity = IdentitySchema().load(_blank_to_none(raw))
    except ValidationError as exc:
        bad = sorted(exc.messages) if isinstance(exc.messages, dict) else []
        identity = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        log.warning("identify_visitor returned unusable %s; %s", ", ".join(bad) or "data",
                    "left out" if identity.get("external_id") else "the visitor is not identified")
    if not identity.get("external_id"):
        return None
    return {key: value for key, value in identity.items() if value is not None}


def load_offline_message(data: Any) -> dict[str, Any]:
    """A validated offline message (text not yet checked), or ``ValidationError``.

    The name is taken only when the pre-chat form asks for it; the e-mail address
    always, since the answer goes there.
    """
    if not isinstance(data, dict):
        raise ValidationError({"_schema": [N_("Send a JSON object.")]})
    loaded = OfflineMessageSchema().load(_blank_to_none(data))
    if loaded.get("name") is not None and "name" not in setting("PRECHAT_FIELDS"):
        raise ValidationError({"name": [_("This field is not asked for.")]})
    return loaded


def load_reconsent(data: Any) -> dict[str, Any]:
    """A validated re-consent, or ``ValidationError``."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": [N_("Send a JSON object.")]})
    return ReconsentSchema().load(data)
