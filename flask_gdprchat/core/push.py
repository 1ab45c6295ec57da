"""Effects on live sockets that the domain asks for, from any process.

The domain never imports the Socket.IO handlers: it tells agents about a new
conversation, posts a notice, or closes the sockets of an erased subject or a
revoked agent through these functions. With a message queue each emit and each
disconnect by sid reaches the process that holds the socket.

Rooms: ``agents`` (every signed-in agent), ``agent:<id>`` (one agent's sockets),
``conversation:<id>`` (the visitor's sockets and agents who joined it).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select

from flask_gdprchat.core.models import LiveSocket
from flask_gdprchat.core.state import session, state

NAMESPACE = "/gdprchat"
AGENTS_ROOM = "agents"

def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def conversation_room(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def announce_conversation(summary: dict[str, Any]) -> None:
    """Tell every agent a conversation started (``conversation_started``)."""
    state.socketio.emit("conversation_started", summary,
                        namespace=NAMESPACE, to=AGENTS_ROOM)


def announce_conversation_update(payload: dict[str, Any]) -> None:
    """Tell every agent a conversation's status or assignee changed
    (``conversation_updated {id, status, assignee_id}``)."""
    state.socketio.emit("conversation_updated", payload, namespace=NAMESPACE, to=AGENTS_ROOM)


def emit_notice(payload: dict[str, Any]) -> None:
    """Relay a stored system notice to the conversation and the agents."""
    state.socketio.emit("notice", payload, namespace=NAMESPACE,
                        to=[conversation_room(payload["conversation_id"]), AGENTS_ROOM])


def _disconnect(sids: Iterable[str]) -> int:
    server = state.socketio.server
    count = 0
    for sid in sids:
        # Works across processes: the queue carries the disconnect to the owner.
        server.disconnect(sid, namespace=NAMESPACE)
        count += 1
    return count


def disconnect_agent(agent_id: int) -> int:
    """Close every open socket of an agent (deleted, disabled, downgraded)."""
    db = session()
    sids = list(db.scalars(select(LiveSocket.sid).where(LiveSocket.agent_id == agent_id)))
    db.execute(delete(LiveSocket).where(LiveSocket.agent_id == agent_id))
    db.commit()
    return _disconnect(sids)


def sign_in_sids(session_id: int) -> list[str]:
    """The open sockets of one agent sign-in (gather before ending it)."""
    return list(session().scalars(
        select(LiveSocket.sid).where(LiveSocket.agent_session_id == session_id)
    ))


def end_conversations(conversation_ids: Iterable[int]) -> None:
    """Tell everyone in these conversations they are erased, then close visitor sockets.

    Call after the erasure is committed, with the ids it removed (their socket
    rows went with them, so pass the ``sids`` gathered beforehand via
    :func:`visitor_sids`).
    """
    for conversation_id in conversation_ids:
        state.socketio.emit(
            "conversation_erased",
            {"conversation_id": conversation_id},
            namespace=NAMESPACE,
            to=conversation_room(conversation_id),
        )
        state.socketio.emit(
            "conversation_erased",
            {"conversation_id": conversation_id},
            namespace=NAMESPACE,
            to=AGENTS_ROOM,
        )


def visitor_sids(conversation_ids: Iterable[int]) -> list[str]:
    """The open visitor sockets of these conversations (gather before erasing)."""
    ids = list(conversation_ids)
    if not ids:
        return []
    return list(
        session().scalars(select(LiveSocket.sid).where(LiveSocket.conversation_id.in_(ids)))
    )


def close_sockets(sids: Iterable[str]) -> int:
    """Close these sockets, wherever they are connected."""
    return _disconnect(sids)
