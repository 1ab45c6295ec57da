"""Validation of what the widget sends (and of what the host says about its user).

Nothing is stored unless all of it passes.
"""
from __future__ import annotations

import logging
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from flask_gdprchat.core.config import PRECHAT_FIELD_CHOICES
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.text import is_storable_text

log = logging.getLogger("flask_gdprchat")

_PHONE = validate.Regexp(r"^\+?[0-9][0-9 ()./-]{2,40}$", error="Enter a phone number, digits only.")


def _storable(value: Any) -> None:
    if isinstance(value, str) and not is_storable_text(value):
        raise ValidationError("Remove the control or invalid characters.")


def _strict_bool(**kwargs: Any) -> fields.Boolean:
    # JSON true/false only: "yes" or 1 is not a tick in a box.
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


def _text(max_length: int) -> fields.String:
    # Trimmed before the length check; blank counts as not given.
    return fields.String(
        allow_none=True, validate=[validate.Length(max=max_length), _storable], load_default=None
    )


class ReconsentSchema(Schema):
    """Consent to the policy in force (a returning visitor's renewal, and every new chat)."""

    class Meta:
        unknown = RAISE

    consent = _strict_bool(
        required=True,
        validate=validate.Equal(True, error="Tick the box to accept the privacy policy."),
        error_messages={"required": "Tick the box to accept the privacy policy."},
    )
    marketing_consent = _strict_bool(load_default=False)
    policy_version = fields.String(required=True,
                                   validate=[validate.Length(min=1, max=64), _storable])


class ContactFieldsSchema(Schema):
    """A contact's details, as the pre-chat form and the host's identity give them."""

    name = _text(255)
    email = fields.Email(allow_none=True, validate=[validate.Length(max=320), _storable],
                         load_default=None)
    company = _text(255)
    phone = fields.String(allow_none=True, validate=[validate.Length(max=64), _PHONE],
                          load_default=None)


class PrechatSchema(ReconsentSchema, ContactFieldsSchema):
    """The pre-chat form: the visitor's details, consent and the policy version."""


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
        raise ValidationError({"_schema": ["Send a JSON object."]})
    loaded = PrechatSchema().load(_blank_to_none(data))
    offered = set() if identified else set(setting("PRECHAT_FIELDS"))
    required = set() if identified else set(setting("PRECHAT_REQUIRED"))
    errors: dict[str, list[str]] = {}
    for key in PRECHAT_FIELD_CHOICES:
        if loaded.get(key) is not None and key not in offered:
            errors[key] = ["This field is not asked for."]
        elif key in required and not loaded.get(key):
            errors[key] = ["This field is required."]
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


def load_reconsent(data: Any) -> dict[str, Any]:
    """A validated re-consent, or ``ValidationError``."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["Send a JSON object."]})
    return ReconsentSchema().load(data)
