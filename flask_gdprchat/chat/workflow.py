"""The conversation workflow: open or resolved, and who on the team owns it.

A conversation is ``open`` until an agent resolves it; an agent may reopen it,
and a visitor's next message reopens it by itself. It is owned by one agent or
by nobody (the shared inbox). Who may do what is decided in
:mod:`flask_gdprchat.core.access`; every change is committed and then told to
every agent as ``conversation_updated {id, status, assignee_id}``.
"""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update

from flask_gdprchat.core import access, push
from flask_gdprchat.core.models import Agent, Conversation, row_id
from flask_gdprchat.core.state import session

OPEN = "open"
RESOLVED = "resolved"
STATUSES = (OPEN, RESOLVED)

_conversations = cast(Table, Conversation.__table__)
# Built once: it runs for every visitor message, and changes nothing unless resolved.
_REOPEN = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("cid"), _conversations.c.status == RESOLVED)
    .values(status=OPEN)
)


class WorkflowError(Exception):
    """A workflow action refused; ``error`` says why, ``status`` is the HTTP-like code."""

    def __init__(self, error: str, *, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def update_payload(conversation: Conversation) -> dict[str, Any]:
    """The ``conversation_updated`` event body."""
    return {
        "id": conversation.id,
        "status": conversation.status or OPEN,
        "assignee_id": conversation.assigned_agent_id,
    }


def _id(value: Any) -> int | None:
    # A JSON number only, and one a row can have.
    return row_id(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _workable(agent: Agent, conversation_id: Any, action: str) -> Conversation:
    cid = _id(conversation_id)
    conversation = session().get(Conversation, cid) if cid else None
    if not access.agent_may_view(agent, conversation):
        raise WorkflowError("no such conversation", status=404)
    if not access.agent_may_work(agent, conversation):
        raise WorkflowError(f"{action} conversations needs the 'send_messages' permission",
                            status=403)
    assert conversation is not None
    return conversation


def _save(conversation: Conversation, changed: bool) -> dict[str, Any]:
    payload = update_payload(conversation)
    if changed:
        session().commit()
        push.announce_conversation_update(payload)
    return payload


def resolve(agent: Agent, conversation_id: Any) -> dict[str, Any]:
    """Mark a conversation resolved (and read); returns its ``conversation_updated`` body."""
    conversation = _workable(agent, conversation_id, "resolving")
    changed = conversation.status != RESOLVED
    conversation.status = RESOLVED
    # Nothing in a resolved conversation waits for an answer any more.
    conversation.unread_count = 0
    return _save(conversation, changed)


def reopen(agent: Agent, conversation_id: Any) -> dict[str, Any]:
    """Mark a resolved conversation open again."""
    conversation = _workable(agent, conversation_id, "reopening")
    changed = conversation.status != OPEN
    conversation.status = OPEN
    return _save(conversation, changed)


def assign(agent: Agent, conversation_id: Any, assignee_id: Any) -> dict[str, Any]:
    """Give a conversation to an agent, or back to the shared inbox (``assignee_id`` None)."""
    conversation = _workable(agent, conversation_id, "assigning")
    assignee = None
    if assignee_id is not None:
        aid = _id(assignee_id)
        assignee = session().get(Agent, aid) if aid else None
        if not access.agent_may_be_assigned(assignee):
            raise WorkflowError("no such agent, or one who cannot answer chats", status=404)
        assert assignee is not None
    if not access.agent_may_assign(agent, conversation, assignee):
        raise WorkflowError(
            "handing a colleague's conversation to someone else needs the 'team' permission",
            status=403,
        )
    new_id = assignee.id if assignee is not None else None
    changed = conversation.assigned_agent_id != new_id
    conversation.assigned_agent_id = new_id
    return _save(conversation, changed)


def reopen_for_visitor(conversation_id: int, *, connection: Connection | None = None) -> bool:
    """In the caller's transaction: reopen the conversation if it was resolved.

    ``connection`` is the transaction to use when it is not the session's (the
    message path writes on its own). Returns True when it was reopened (then
    call :func:`announce_reopened` after the commit).
    """
    executor: Any = connection if connection is not None else session()
    result: Any = executor.execute(_REOPEN, {"cid": conversation_id})
    return bool(result.rowcount)


def announce_reopened(conversation_id: int) -> None:
    """Tell the agents a visitor's message reopened a conversation (after the commit)."""
    assignee_id = session().scalar(
        select(Conversation.assigned_agent_id).where(Conversation.id == conversation_id)
    )
    push.announce_conversation_update(
        {"id": conversation_id, "status": OPEN, "assignee_id": assignee_id}
    )


__all__ = ["OPEN", "RESOLVED", "STATUSES", "WorkflowError", "update_payload", "resolve",
           "reopen", "assign", "reopen_for_visitor", "announce_reopened"]
