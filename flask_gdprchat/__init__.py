"""flask-gdprchat: GDPR-compliant live chat for any Flask app.

The package is layered: ``extension`` wires the faces (``web``, ``sockets``,
``admin``, ``cli``, ``jobs``) to the domain (``chat``, ``rights``, ``team``,
``retention``), which stands on ``core``. Only the names below are public.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask_gdprchat.core.signals import (
    agent_erased,
    consent_given,
    conversation_started,
    message_sent,
    purge_completed,
    subject_erased,
    subject_exported,
    subject_rectified,
    subject_restricted,
    subject_unsubscribed,
)
from flask_gdprchat.extension import GDPRChat

try:
    __version__ = version("flask-gdprchat")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "GDPRChat",
    "__version__",
    "agent_erased",
    "consent_given",
    "conversation_started",
    "message_sent",
    "purge_completed",
    "subject_erased",
    "subject_exported",
    "subject_rectified",
    "subject_restricted",
    "subject_unsubscribed",
]
