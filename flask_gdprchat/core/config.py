"""Configuration: every default, and its validation at start-up.

Every ``GDPRCHAT_*`` key has its default here, once. Keys that admins may change
in the dashboard (retention, pre-chat fields, widget look) are read through
:func:`flask_gdprchat.core.settings.setting`, which lays the saved value over
the configured one.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from flask_gdprchat.core import office_hours
from flask_gdprchat.core.concurrency import ASYNC_MODES
from flask_gdprchat.core.i18n import EU_LANGUAGES
from flask_gdprchat.core.masking import KINDS as MASK_KINDS

PREFIX = "GDPRCHAT_"

#: Fields the pre-chat form may ask for; nothing else is ever collected from it.
PRECHAT_FIELD_CHOICES = ("name", "email", "company", "phone")

#: argon2-cffi profiles an agent's password may be hashed with (strongest first).
PASSWORD_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")

#: Permissions an agent can hold. ``admin`` agents hold all of them.
PERMISSIONS = ("settings", "team", "user_data", "send_messages", "edit_messages")

DEFAULTS: dict[str, Any] = {
    #: Where the extension's pages, API and Socket.IO namespace live.
    "URL_PREFIX": "/gdprchat",
    #: Privacy policy shown next to the consent box; ``None`` = built-in page.
    "PRIVACY_POLICY_URL": None,
    #: Consent is recorded against this version; a new one asks again.
    "PRIVACY_POLICY_VERSION": "1",
    #: Wording shown beside the consent box (followed by the privacy-policy link),
    #: stored with each consent record: one text, or ``{language: text}``; ``%(days)s``
    #: shows the anonymous retention in force. The built-in default is translated.
    "CONSENT_TEXT": ("I agree that my details and messages are used only to answer me "
                     "and are deleted %(days)s days after our last message."),
    #: Wording of the separate, optional marketing opt-in (a text or ``{language: text}``).
    "MARKETING_CONSENT_TEXT": "Send me news and offers by e-mail. (optional)",
    #: Languages visitors may get pages, widget and mail in (default: the EU's 24).
    "LANGUAGES": list(EU_LANGUAGES),
    #: The language when neither ``?lang=``, the host's locale nor the browser decides.
    "DEFAULT_LANGUAGE": "en",
    #: Fields the pre-chat form shows, and which of them must be filled.
    "PRECHAT_FIELDS": ["name", "email", "company", "phone"],
    "PRECHAT_REQUIRED": [],
    #: Days an anonymous conversation is kept after its last activity.
    "ANONYMOUS_RETENTION_DAYS": 270,
    #: Days an identified contact's conversation is kept; ``None`` = until erased.
    "IDENTIFIED_RETENTION_DAYS": None,
    #: Days a restricted subject is kept frozen before it is purged.
    "RESTRICTED_GRACE_DAYS": 183,
    #: ``redis://`` URL shared by several server processes, or ``None``.
    "MESSAGE_QUEUE": None,
    #: Channel on the queue; processes of one site share it, other sites use their own.
    "MESSAGE_QUEUE_CHANNEL": "gdprchat",
    #: How the chat's own Socket.IO server runs: ``None`` = ``"gevent"`` (or
    #: ``"eventlet"``) when that library monkey-patched the process, else
    #: ``"threading"``; or name one. A host's own SocketIO keeps its mode.
    "ASYNC_MODE": None,
    #: Create or upgrade the chat's tables when the app starts (else: ``init-db``).
    "AUTO_MIGRATE": True,
    #: Run the retention and campaign jobs inside this process.
    "SCHEDULER": True,
    #: Seconds a privacy-center link stays valid.
    "TOKEN_MAX_AGE": 86400,
    #: Longest chat message accepted, in characters.
    "MAX_MESSAGE_LENGTH": 5000,
    #: Store the visitor's IP address with consent records (opt-in).
    "STORE_IP": False,
    #: Where the subjects' keys live, apart from the data (a SQLAlchemy URL of a
    #: database of its own); ``None`` = ``gdprchat-keys.sqlite3`` in the instance folder.
    "KEYSTORE_URI": None,
    #: The key that wraps every key in the key store (url-safe base64 of 32 bytes);
    #: ``None`` = generated once and kept in the instance folder, like the secret key.
    "MASTER_KEY": None,
    #: What is masked in messages before they are stored or relayed: ``card``
    #: (Luhn-valid payment card numbers), ``iban`` (mod-97-valid IBANs); ``[]`` = off.
    "MASK_PATTERNS": ["card", "iban"],
    #: Origins allowed to open the Socket.IO connection; ``None`` = same origin only.
    "CORS_ALLOWED_ORIGINS": None,
    #: The site's public base URL, for links in mail sent outside a request (CLI,
    #: scheduler); ``None`` = Flask's ``SERVER_NAME``, and with neither such mail fails.
    "PUBLIC_URL": None,
    #: Who answers privacy questions; shown on the privacy page.
    "CONTROLLER_NAME": "The site owner",
    "CONTROLLER_EMAIL": None,
    #: Transfers of chat data outside the EEA, for the record of processing (Art. 30(1)(e)):
    #: one line each naming the recipient, the country and the safeguard; ``[]`` = none.
    "TRANSFERS_OUTSIDE_EEA": [],
    #: Widget look.
    "WIDGET_COLOR": "#2563eb",
    "WIDGET_GREETING": "Hi! How can we help?",
    "WIDGET_TITLE": "Chat with us",
    #: When the team answers: ``None`` = around the clock, or ``{"timezone":
    #: "Europe/Berlin", "mon": ["09:00", "17:00"], ...}`` (a missing day is closed).
    #: Visitors see someone can answer only within these hours with an agent online.
    "OFFICE_HOURS": None,
    #: Rows deleted per purge transaction.
    "PURGE_BATCH_SIZE": 500,
    #: Privacy-link requests allowed per address per hour.
    "LINK_REQUESTS_PER_HOUR": 3,
    #: Chat messages one socket may send per ten seconds.
    "MESSAGES_PER_10S": 20,
    #: Chats one address may start per hour (a bound on scripted floods).
    "CONVERSATION_STARTS_PER_HOUR": 20,
    #: The argon2-cffi profile agents' passwords are hashed with; tests may use "CHEAPEST".
    "PASSWORD_PROFILE": "RFC_9106_LOW_MEMORY",
}

#: Keys whose value is a secret: an error about them never repeats the value.
SECRET_KEYS = ("MASTER_KEY",)

#: Keys whose saved dashboard value overrides the configured default at run time.
RUNTIME_KEYS = (
    "PRIVACY_POLICY_URL",
    "PRIVACY_POLICY_VERSION",
    "CONSENT_TEXT",
    "MARKETING_CONSENT_TEXT",
    "PRECHAT_FIELDS",
    "PRECHAT_REQUIRED",
    "ANONYMOUS_RETENTION_DAYS",
    "IDENTIFIED_RETENTION_DAYS",
    "RESTRICTED_GRACE_DAYS",
    "WIDGET_COLOR",
    "WIDGET_GREETING",
    "WIDGET_TITLE",
    "OFFICE_HOURS",
)

MAIL_DEFAULTS: dict[str, Any] = {
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": None,
}


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _optional_positive_int(value: Any) -> bool:
    return value is None or _positive_int(value)


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _link(value: Any) -> bool:
    """None, an http(s) URL or a path on this site: never ``javascript:`` and the like,
    since the widget and the privacy pages put it in a link's ``href``."""
    if value is None:
        return True
    if not isinstance(value, str) or not value or any(ord(c) < 33 or c == "\\" for c in value):
        return False
    parts = urlsplit(value)
    if parts.scheme:
        return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
    return value.startswith("/") and not value.startswith("//")


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _fields(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(v in PRECHAT_FIELD_CHOICES for v in value)


def _mask_patterns(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(v in MASK_KINDS for v in value)


def _lines(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_nonempty_str(v) for v in value)


def _language(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(r"[a-z]{2,3}", value) is not None


def _languages(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple)) and bool(value) and all(_language(v) for v in value)
        and len(set(value)) == len(value)
    )


def _wording(value: Any) -> bool:
    """One text for every language, or a non-empty ``{language: text}`` mapping."""
    if isinstance(value, dict):
        return bool(value) and all(
            _language(k) and _nonempty_str(v) for k, v in value.items()
        )
    return _nonempty_str(value)


def _colour(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value) is not None


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


def _origins(value: Any) -> bool:
    """None, or origins such as ``https://shop.example``: never ``*``, which would let
    any site open a chat socket in its visitors' name."""
    if value is None:
        return True
    values = [value] if isinstance(value, str) else value
    return isinstance(values, (list, tuple)) and bool(values) and all(
        isinstance(v, str) and _ORIGIN.fullmatch(v) is not None for v in values
    )


def _public_url(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or any(ord(c) < 33 for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.query


def _master_key(value: Any) -> bool:
    if value is None:
        return True
    from flask_gdprchat.core.master_key import parse_key  # it imports this module

    try:
        parse_key(value)
    except (ValueError, AttributeError):
        return False
    return True


def _queue(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.startswith(("redis://", "rediss://")))


def _prefix(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/") and not value.endswith("/")


_VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "URL_PREFIX": (_prefix, "a path starting with '/' and not ending with '/'"),
    "PRIVACY_POLICY_URL": (_link, "an http(s) URL, a path starting with '/', or None"),
    "PRIVACY_POLICY_VERSION": (_nonempty_str, "a non-empty string"),
    "CONSENT_TEXT": (_wording, "a non-empty string or a {language: text} mapping"),
    "MARKETING_CONSENT_TEXT": (_wording, "a non-empty string or a {language: text} mapping"),
    "LANGUAGES": (_languages, "a non-empty list of distinct language codes like 'de'"),
    "DEFAULT_LANGUAGE": (_language, "a language code like 'en'"),
    "PRECHAT_FIELDS": (_fields, f"a list drawn from {list(PRECHAT_FIELD_CHOICES)}"),
    "PRECHAT_REQUIRED": (_fields, f"a list drawn from {list(PRECHAT_FIELD_CHOICES)}"),
    "ANONYMOUS_RETENTION_DAYS": (_positive_int, "a positive whole number of days"),
    "IDENTIFIED_RETENTION_DAYS": (_optional_positive_int, "a positive whole number or None"),
    "RESTRICTED_GRACE_DAYS": (_positive_int, "a positive whole number of days"),
    "MESSAGE_QUEUE": (_queue, "None or a redis:// URL"),
    "MESSAGE_QUEUE_CHANNEL": (_nonempty_str, "a non-empty string"),
    "ASYNC_MODE": (lambda v: v is None or v in ASYNC_MODES,
                   f"None or one of {list(ASYNC_MODES)}"),
    "AUTO_MIGRATE": (lambda v: isinstance(v, bool), "True or False"),
    "SCHEDULER": (lambda v: isinstance(v, bool), "True or False"),
    "TOKEN_MAX_AGE": (_positive_int, "a positive whole number of seconds"),
    "MAX_MESSAGE_LENGTH": (_positive_int, "a positive whole number of characters"),
    "STORE_IP": (lambda v: isinstance(v, bool), "True or False"),
    "KEYSTORE_URI": (lambda v: v is None or _nonempty_str(v),
                     "None or a database URL of its own, like 'postgresql+psycopg://.../keys'"),
    "MASTER_KEY": (_master_key, "None or the url-safe base64 text of 32 random bytes"),
    "MASK_PATTERNS": (_mask_patterns, 'a list drawn from ["card", "iban"], or [] for none'),
    "CORS_ALLOWED_ORIGINS": (_origins, "None, an origin like 'https://shop.example' or a "
                             "list of them ('*' is refused: any site could then chat in "
                             "its visitors' name)"),
    "PUBLIC_URL": (_public_url, "None or the site's base URL, like 'https://shop.example'"),
    "CONVERSATION_STARTS_PER_HOUR": (_positive_int, "a positive whole number"),
    "PASSWORD_PROFILE": (lambda v: v in PASSWORD_PROFILES,
                         f"one of {list(PASSWORD_PROFILES)}"),
    "CONTROLLER_NAME": (_nonempty_str, "a non-empty string"),
    "CONTROLLER_EMAIL": (_optional_str, "an e-mail address or None"),
    "TRANSFERS_OUTSIDE_EEA": (_lines, "a list of non-empty strings ([] = none)"),
    "WIDGET_COLOR": (_colour, "a colour like '#2563eb'"),
    "WIDGET_GREETING": (lambda v: isinstance(v, str), "a string"),
    "WIDGET_TITLE": (_nonempty_str, "a non-empty string"),
    "OFFICE_HOURS": (office_hours.is_valid,
                     'None, or {"timezone": "Europe/Berlin", "mon": ["09:00", "17:00"], ...} '
                     "(weekdays mon ... sun, each opening before closing)"),
    "PURGE_BATCH_SIZE": (_positive_int, "a positive whole number of rows"),
    "LINK_REQUESTS_PER_HOUR": (_positive_int, "a positive whole number"),
    "MESSAGES_PER_10S": (_positive_int, "a positive whole number"),
}


def validate_value(key: str, value: Any) -> None:
    """Raise :class:`ConfigError` naming ``GDPRCHAT_<key>`` if ``value`` is not allowed."""
    check, expected = _VALIDATORS[key]
    if not check(value):
        shown = "a value not shown here" if key in SECRET_KEYS else repr(value)
        raise ConfigError(f"{PREFIX}{key} must be {expected}, got {shown}")


def apply_defaults(config: dict[str, Any]) -> None:
    """Fill in every default, then validate, so a wrong value fails at start-up."""
    for key, value in DEFAULTS.items():
        config.setdefault(PREFIX + key, list(value) if isinstance(value, list) else value)
    for key, value in MAIL_DEFAULTS.items():
        config.setdefault(key, value)
    unknown = [
        k for k in config if k.startswith(PREFIX) and k[len(PREFIX):] not in DEFAULTS
    ]
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a flask-gdprchat setting")
    for key in DEFAULTS:
        validate_value(key, config[PREFIX + key])
    check_prechat(config[PREFIX + "PRECHAT_FIELDS"], config[PREFIX + "PRECHAT_REQUIRED"])
    languages = config[PREFIX + "LANGUAGES"]
    if config[PREFIX + "DEFAULT_LANGUAGE"] not in languages:
        raise ConfigError(
            f"{PREFIX}DEFAULT_LANGUAGE must be one of {PREFIX}LANGUAGES, "
            f"got {config[PREFIX + 'DEFAULT_LANGUAGE']!r}"
        )
    for key in ("CONSENT_TEXT", "MARKETING_CONSENT_TEXT"):
        check_wording_languages(key, config[PREFIX + key], languages)


def check_wording_languages(key: str, value: Any, languages: list[str]) -> None:
    """A ``{language: text}`` wording may name offered languages only; raise naming the key.

    Checked at start-up and again whenever the dashboard saves a wording.
    """
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(languages))
        if unknown:
            raise ConfigError(
                f"{PREFIX}{key} names languages missing from {PREFIX}LANGUAGES: {unknown}"
            )


def missing_required(fields: list[str], required: list[str]) -> list[str]:
    """Required pre-chat fields that the form would not show (the rule: none)."""
    return sorted(set(required) - set(fields))


def check_prechat(fields: list[str], required: list[str]) -> None:
    """A required pre-chat field must also be shown; raise naming the key if not.

    Checked at start-up and again whenever the dashboard saves either list.
    """
    missing = missing_required(fields, required)
    if missing:
        raise ConfigError(
            f"{PREFIX}PRECHAT_REQUIRED names fields missing from {PREFIX}PRECHAT_FIELDS: {missing}"
        )


def config_value(key: str) -> Any:
    """The configured value of ``GDPRCHAT_<key>``; a typo raises instead of defaulting."""
    if key not in DEFAULTS:
        raise KeyError(f"{PREFIX}{key} is not a flask-gdprchat setting")
    return current_app.config[PREFIX + key]
