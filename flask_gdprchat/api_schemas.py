"""Validation of what the widget sends. Nothing is stored unless all of it passes."""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .config import PRECHAT_FIELD_CHOICES, setting

_PHONE = validate.Regexp(r"^\+?[0-9][0-9 ()./-]{2,40}$", error="Enter a phone number, digits only.")


def is_storable_text(text: str, *, multiline: bool = False) -> bool:
    """True unless ``text`` holds what no database keeps as given.

    Lone surrogates cannot be encoded as UTF-8 at all and NUL is refused by
    PostgreSQL; a one-line field takes no control characters whatsoever
    (the rule rectification applies too).
    """
    allowed = "\t\n\r" if multiline else ""
    for ch in text:
        code = ord(ch)
        if (code < 32 and ch not in allowed) or 0xD800 <= code <= 0xDFFF:
            return False
    return True


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


class PrechatSchema(ReconsentSchema):
    """The pre-chat form: the visitor's details, consent and the policy version."""

    name = _text(255)
    email = fields.Email(allow_none=True, validate=[validate.Length(max=320), _storable],
                         load_default=None)
    company = _text(255)
    phone = fields.String(allow_none=True, validate=[validate.Length(max=64), _PHONE],
                          load_default=None)


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


def load_reconsent(data: Any) -> dict[str, Any]:
    """A validated re-consent, or ``ValidationError``."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["Send a JSON object."]})
    return ReconsentSchema().load(data)
