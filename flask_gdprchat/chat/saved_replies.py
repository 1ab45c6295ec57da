"""Saved replies: canned answers an agent inserts by typing ``/shortcut``.

They are the team's own wording (managed in the dashboard with the ``settings``
permission) and hold no visitor data.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from flask_gdprchat.core.models import SavedReply
from flask_gdprchat.core.state import session
from flask_gdprchat.core.text import is_storable_text

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
#: The console lists at most this many (more would not help anyone choose).
LIST_LIMIT = 500


class SavedReplyError(ValueError):
    """A saved reply that cannot be stored; the message says why."""


def clean_shortcut(value: Any) -> str:
    """The shortcut without its ``/``, lower case; :class:`SavedReplyError` if unusable."""
    if not isinstance(value, str):
        raise SavedReplyError("the shortcut must be text")
    shortcut = value.strip().lstrip("/").lower()
    if not SHORTCUT_RE.match(shortcut):
        raise SavedReplyError("use 1 to 32 lower-case letters, digits, '-' or '_' "
                              "(typed after '/'), starting with a letter or digit")
    return shortcut


def check_saved_reply(reply: SavedReply) -> None:
    """Normalise and check a saved reply before it is stored (the caller commits)."""
    reply.shortcut = clean_shortcut(reply.shortcut)
    if not isinstance(reply.text, str) or not reply.text.strip():
        raise SavedReplyError("the reply text must not be empty")
    if not is_storable_text(reply.text, multiline=True):
        raise SavedReplyError("the reply text holds invalid characters (such as NUL)")
    reply.title = (reply.title or "").strip() or None
    db = session()
    # Without autoflush: a new reply must not find itself (it is pending in the session).
    with db.no_autoflush:
        taken = db.scalar(
            select(func.count()).select_from(SavedReply)
            .where(SavedReply.shortcut == reply.shortcut, SavedReply.id != (reply.id or 0))
        )
    if taken:
        raise SavedReplyError(f"another saved reply already uses /{reply.shortcut}")


def saved_replies() -> list[dict[str, Any]]:
    """Every saved reply for the console, by shortcut."""
    rows = session().scalars(select(SavedReply).order_by(SavedReply.shortcut).limit(LIST_LIMIT))
    return [{"id": r.id, "shortcut": r.shortcut, "title": r.title or "", "text": r.text}
            for r in rows]


__all__ = ["SavedReplyError", "clean_shortcut", "check_saved_reply", "saved_replies"]
