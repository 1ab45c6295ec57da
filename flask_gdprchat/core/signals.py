"""Blinker signals a host app can subscribe to.

Every signal is sent with the Flask app as sender. Keyword arguments never carry
more personal data than the host already holds for the subject.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A visitor consented. Kwargs: ``contact_id``, ``purpose``, ``policy_version``.
consent_given = _signals.signal("consent-given")
#: A conversation began. Kwargs: ``conversation_id``, ``contact_id``.
conversation_started = _signals.signal("conversation-started")
#: A message was stored and relayed. Kwargs: ``message_id``, ``conversation_id``, ``author``.
message_sent = _signals.signal("message-sent")
#: A subject's data was exported. Kwargs: ``contact_id``, ``format``, ``channel``.
subject_exported = _signals.signal("subject-exported")
#: A subject's details were corrected. Kwargs: ``contact_id``, ``fields`` (names only).
subject_rectified = _signals.signal("subject-rectified")
#: A subject was erased. Kwargs: ``subject_ref`` (keyed hash), ``counts``, ``channel``.
subject_erased = _signals.signal("subject-erased")
#: Processing of a subject was restricted (``restricted=True``) or the restriction
#: lifted (``restricted=False``). Kwargs: ``contact_id``, ``restricted``.
subject_restricted = _signals.signal("subject-restricted")
#: A subject objected to campaigns. Kwargs: ``contact_id``, ``channel``.
subject_unsubscribed = _signals.signal("subject-unsubscribed")
#: A team member was erased. Kwargs: ``agent_id``, ``purged`` (first name replaced too).
agent_erased = _signals.signal("agent-erased")
#: A retention purge finished. Kwargs: ``report`` (counts only).
purge_completed = _signals.signal("purge-completed")

__all__ = [
    "consent_given",
    "conversation_started",
    "message_sent",
    "subject_exported",
    "subject_rectified",
    "subject_erased",
    "subject_restricted",
    "subject_unsubscribed",
    "agent_erased",
    "purge_completed",
]
