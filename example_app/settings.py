"""The example site's configuration, read from the environment.

Nothing secret is written in this file: the session key comes from ``SECRET_KEY``
or is generated once and kept in the instance folder (outside git).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def instance_secret(instance_path: str, filename: str = "secret_key") -> str:
    """A random key created on first use and kept (mode 0600) in the instance folder.

    Restarts keep the same key, so sessions and privacy-center links survive them.
    """
    path = Path(instance_path) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict[str, Any]:
    """Settings for the site: environment variables over local-development defaults."""
    config: dict[str, Any] = {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or instance_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or "sqlite:///" + os.path.join(instance_path, "brightsmile.sqlite3"),
        # Local development default: an SMTP server on localhost:1025, for example
        # `python -m aiosmtpd -n -l localhost:1025`, which prints every message.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "1025")),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "Brightsmile Dental <hello@brightsmile.example>"
        ),
        # Links in mail sent by the command line or the scheduler point here.
        "GDPRCHAT_PUBLIC_URL": os.environ.get("PUBLIC_URL")
        or f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}",
        # A redis:// URL here lets several server processes share the chat.
        "GDPRCHAT_MESSAGE_QUEUE": os.environ.get("GDPRCHAT_MESSAGE_QUEUE") or None,
        "GDPRCHAT_CONTROLLER_NAME": "Brightsmile Dental Clinic",
        "GDPRCHAT_CONTROLLER_EMAIL": "privacy@brightsmile.example",
        "GDPRCHAT_WIDGET_COLOR": "#0f766e",
        "GDPRCHAT_WIDGET_TITLE": "Ask Brightsmile",
        "GDPRCHAT_WIDGET_GREETING": "Hi! How can we help with your smile?",
        # Patients signed in are known by name already; only ask anonymous visitors.
        "GDPRCHAT_PRECHAT_FIELDS": ["name", "email", "phone"],
        # Purges run inside this process unless a separate `flask gdprchat scheduler` does.
        "GDPRCHAT_SCHEDULER": _flag("GDPRCHAT_SCHEDULER", default=True),
    }
    return config
