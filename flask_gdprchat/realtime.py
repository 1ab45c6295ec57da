"""The ``/gdprchat`` Socket.IO namespace and the hooks other features call.

Rooms: ``agents`` (every signed-in agent), ``agent:<id>`` (one agent's sockets),
``conversation:<id>`` (the visitor's sockets and agents who joined it).
Open sockets are listed in ``gdprchat_sockets`` so that an erasure or a revoked
agent closes them from any process: a disconnect by sid travels over the queue.
"""
from __future__ import annotations

from typing import Any, Iterable

from flask import request
from flask import session as flask_session
from flask_socketio import Namespace, SocketIO
from sqlalchemy import delete, select

from .access import conversation_for_token
from .auth import SESSION_KEY, agent_from_session
from .models import LiveSocket
from .state import session, state

NAMESPACE = "/gdprchat"
AGENTS_ROOM = "agents"


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def conversation_room(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


class ChatNamespace(Namespace):
    """Visitors authenticate with their token, agents with their session."""

    def on_connect(self, auth: Any = None) -> None:
        token = auth.get("visitor_token") if isinstance(auth, dict) else None
        db = session()
        if token:
            conversation = conversation_for_token(token)
            if conversation is None:
                raise ConnectionRefusedError("unknown or expired visitor token")
            self.enter_room(request.sid, conversation_room(conversation.id))
            db.add(LiveSocket(sid=request.sid, conversation_id=conversation.id))
            db.commit()
            return
        agent = agent_from_session(flask_session.get(SESSION_KEY))
        if agent is None:
            raise ConnectionRefusedError("sign in as an agent or give a visitor token")
        self.enter_room(request.sid, AGENTS_ROOM)
        self.enter_room(request.sid, agent_room(agent.id))
        db.add(LiveSocket(sid=request.sid, agent_id=agent.id))
        db.commit()

    def on_disconnect(self, reason: Any = None) -> None:
        db = session()
        db.execute(delete(LiveSocket).where(LiveSocket.sid == request.sid))
        db.commit()


def register(socketio: SocketIO, url_prefix: str) -> None:
    """Attach the namespace to ``socketio``."""
    socketio.on_namespace(ChatNamespace(NAMESPACE))


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
