"""flask-gdprchat: GDPR-compliant live chat for any Flask app."""
from __future__ import annotations

from .extension import GDPRChat
from .signals import (
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

__version__ = "0.1.0"

__all__ = [
    "GDPRChat",
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
