"""The ``/gdprchat`` Socket.IO namespace: one handler per client event.

Rooms are named in :mod:`flask_gdprchat.core.push`. Open sockets are listed in ``gdprchat_sockets`` so that an erasure or a revoked
agent closes them from any process: a disconnect by sid travels over the queue.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from flask import session as flask_session
from flask_socketio import Namespace, SocketIO
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from flask_gdprchat.chat import consent, conversations, offline, workflow
from flask_gdprchat.core import access, security_log
from flask_gdprchat.core.access import conversation_for_token
from flask_gdprchat.core.identity import SESSION_KEY, agent_from_session, sign_in_from
from flask_gdprchat.core.mail import UnbuildableMail
from flask_gdprchat.core.models import Agent, Conversation, LiveSocket, row_id
from flask_gdprchat.core.push import (
    AGENTS_ROOM,
    NAMESPACE,
    agent_room,
    conversation_room,
)
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session
from flask_gdprchat.sockets.errors import socket_error
from flask_gdprchat.sockets.guard import PendingConnections, limit_socket_bodies
from flask_gdprchat.team import agents

#: Seconds over which ``MESSAGES_PER_10S`` is counted.
FLOOD_WINDOW = 10.0
#: Shortest gap between two relayed ``typing`` events of one socket, in seconds:
#: the indicator needs no more, and more would reach every agent.
TYPING_INTERVAL = 1.5
#: Flood refusals within :data:`FLOOD_WINDOW` after which the socket is closed.
FLOOD_DISCONNECT_AFTER = 30


@dataclass
class _Client:
    """What this process remembers about one of its sockets (never shared)."""

    visitor_token: str | None = None
    #: The visitor accepted the policy version in force when it connected.
    consent_current: bool = True
    sent: deque[float] = field(default_factory=deque)
    #: When this socket's last ``typing`` was relayed.
    typed_at: float = -TYPING_INTERVAL
    #: Times this socket was refused for flooding, within the last window.
    refusals: deque[float] = field(default_factory=deque)

    def flooding(self, limit: int) -> bool:
        """Count one message; True when over ``limit`` in the last ten seconds."""
        now = time.monotonic()
        while self.sent and now - self.sent[0] > FLOOD_WINDOW:
            self.sent.popleft()
        if len(self.sent) >= limit:
            return True
        self.sent.append(now)
        return False

    def typing_too_often(self) -> bool:
        """True when a ``typing`` came sooner than :data:`TYPING_INTERVAL` after the last."""
        now = time.monotonic()
        if now - self.typed_at < TYPING_INTERVAL:
            return True
        self.typed_at = now
        return False

    def persistent_flooder(self) -> bool:
        """Count one flood refusal; True once they pile up past :data:`FLOOD_DISCONNECT_AFTER`."""
        now = time.monotonic()
        while self.refusals and now - self.refusals[0] > FLOOD_WINDOW:
            self.refusals.popleft()
        self.refusals.append(now)
        return len(self.refusals) > FLOOD_DISCONNECT_AFTER


def _sid() -> str:
    """This event's socket id (Flask-SocketIO sets it on the request)."""
    sid: str = request.sid  # type: ignore[attr-defined]
    return sid


def _refuse(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _conversation_for(agent: Agent, data: Any) -> Conversation | None:
    """The conversation ``data`` names, if this agent may see it (else None)."""
    conversation_id = _as_id(data.get("conversation_id")) if isinstance(data, dict) else None
    conversation = session().get(Conversation, conversation_id) if conversation_id else None
    return conversation if access.agent_may_view(agent, conversation) else None


def _as_id(value: Any) -> int | None:
    # A JSON number only (not its text), and one a row can have.
    return row_id(value) if isinstance(value, int) else None


class ChatNamespace(Namespace):
    """Visitors authenticate with their token, agents with their session.

    Every handler checks access again through :mod:`flask_gdprchat.core.access`: an
    agent's session is re-read from the database at each event, so a revoked
    agent fails at once; a visitor's token must open the conversation named.
    """

    def __init__(self, namespace: str, pending: PendingConnections | None = None) -> None:
        super().__init__(namespace)
        self._clients: dict[str, _Client] = {}
        self._pending = pending

    def _authenticated(self) -> None:
        """This socket proved who it is: lift the unauthenticated-connection bounds."""
        if self._pending is not None:
            eio_sid = self.server.manager.eio_sid_from_sid(_sid(), NAMESPACE)
            if eio_sid is not None:
                self._pending.authenticated(eio_sid)

    # -- connection ---------------------------------------------------------------------

    def on_connect(self, auth: Any = None) -> None:
        token = auth.get("visitor_token") if isinstance(auth, dict) else None
        db = session()
        if token:
            conversation = conversation_for_token(token) if isinstance(token, str) else None
            if conversation is None:
                security_log.refused("connect", "unknown_visitor_token")
                raise ConnectionRefusedError("unknown or expired visitor token")
            self._clients[_sid()] = _Client(
                visitor_token=token,
                consent_current=consent.consent_is_current(conversation.contact_id),
            )
            self.enter_room(_sid(), conversation_room(conversation.id))
            db.add(LiveSocket(sid=_sid(), conversation_id=conversation.id))
            db.commit()
            self._authenticated()
            return
        sign_in = sign_in_from(flask_session.get(SESSION_KEY))
        if sign_in is None:
            security_log.refused("connect", "not_signed_in")
            raise ConnectionRefusedError("sign in as an agent or give a visitor token")
        agent = sign_in.agent
        self._clients[_sid()] = _Client()
        self.enter_room(_sid(), AGENTS_ROOM)
        self.enter_room(_sid(), agent_room(agent.id))
        db.add(LiveSocket(sid=_sid(), agent_id=agent.id, agent_session_id=sign_in.session_id))
        db.commit()
        self._authenticated()

    def on_disconnect(self, reason: Any = None) -> None:
        self._clients.pop(_sid(), None)
        db = session()
        db.execute(delete(LiveSocket).where(LiveSocket.sid == _sid()))
        db.commit()

    # -- who is calling -----------------------------------------------------------------

    def _client(self) -> _Client | None:
        return self._clients.get(_sid())

    def _agent(self) -> Agent | None:
        """The calling agent, checked again now: a revoked one is refused at once.

        (Its socket is closed by :func:`disconnect_agent`; closing it here would
        swallow the error acknowledgement.)
        """
        return agent_from_session(flask_session.get(SESSION_KEY))

    def _calling_agent(self, action: str) -> tuple[Agent | None, str]:
        """The agent behind this socket, checked now, or None and why it may not ``action``."""
        client = self._client()
        if client is None or client.visitor_token is not None:
            return None, f"only agents {action}"
        agent = self._agent()
        return agent, "" if agent is not None else "your session has ended"

    def _flood_refusal(self, client: _Client, event: str, error: str) -> dict[str, Any]:
        """Refuse a flooded event; close the socket of a client that keeps on."""
        if client.persistent_flooder():
            security_log.refused(event, "persistent_flood_disconnected")
            self.disconnect(_sid())
        return _refuse(error)

    def _relay(self, event: str, data: Any, rooms: list[str], skip_sid: str | None = None) -> None:
        # One emit to several rooms: a socket in more than one gets it once.
        self.socketio.emit(event, data, namespace=NAMESPACE, to=rooms, skip_sid=skip_sid)

    # -- events -------------------------------------------------------------------------

    def on_send_message(self, data: Any = None) -> dict[str, Any]:
        """``{conversation_id, text}`` from a visitor or an agent; stored, then relayed."""
        client = self._client()
        if client is None or not isinstance(data, dict):
            return _refuse("send {conversation_id, text}")
        try:
            text, masked = conversations.prepare_text(data.get("text"))
            client_msg_id = conversations.check_client_msg_id(data.get("client_msg_id"))
        except conversations.ChatError as exc:
            return _refuse(exc.error)
        conversation_id = _as_id(data.get("conversation_id"))
        #: An offline message's conversation and the agent answering: the reply goes by e-mail.
        by_email: tuple[Conversation, Agent] | None = None
        if client.visitor_token is not None:
            # The lean form of the same access rule: this runs for every message.
            own = access.visitor_access(client.visitor_token, conversation_id)
            if own is None:
                security_log.refused("send_message", "not_own_conversation",
                                     conversation=conversation_id)
                return _refuse("not your conversation")
            if not client.consent_current:
                return _refuse("consent_required: accept the current privacy policy first")
            if not own.open_for_processing:
                return _refuse("this conversation is restricted")
            target_id, contact_id = own.conversation_id, own.contact_id
            active_at = own.contact_last_activity_at
            author, agent_id = "visitor", None
            author_name = own.contact_name or conversations.VISITOR_FALLBACK_NAME
        else:
            agent = self._agent()
            if agent is None:
                return _refuse("your session has ended")
            conversation = (
                session().get(Conversation, conversation_id) if conversation_id else None
            )
            if conversation is None:
                return _refuse("no such conversation")
            if not access.agent_may_reply(agent, conversation):
                return _refuse("you may not reply in this conversation")
            target_id, contact_id = conversation.id, conversation.contact_id
            active_at = conversation.contact.last_activity_at
            author, author_name, agent_id = "agent", agent.public_name, agent.id
            by_email = (conversation, agent) if conversation.offline else None
        if client.flooding(setting("MESSAGES_PER_10S")):
            return self._flood_refusal(client, "send_message", "too many messages: wait a few seconds")
        emailed = None
        try:
            if by_email is not None:
                answered = offline.answer_by_email(*by_email, text, client_msg_id=client_msg_id)
                message_id, created, emailed = (answered.message_id, answered.created_at,
                                                answered.delivered)
            else:
                message_id, created = conversations.store_message(
                    target_id, contact_id, author, text, agent_id=agent_id,
                    contact_active_at=active_at, client_msg_id=client_msg_id,
                )
        except (conversations.ChatError, UnbuildableMail) as exc:
            return _refuse(f"the answer cannot be mailed: {exc}")
        except IntegrityError:
            # A retry of a message already stored (the unique client id refused
            # it): the same ack, nothing new. No lookup before the insert: the
            # index decides, so the message path spends no query on it.
            session().rollback()
            stored = conversations.stored_under_client_id(target_id, client_msg_id or "")
            if stored is None:
                raise
            return {"ok": True, "message": stored, "duplicate": True}
        payload = conversations.message_payload(
            message_id, target_id, author, author_name, text, created, agent_id=agent_id,
            masked=masked,
        )
        if by_email is not None:
            # Nobody waits on a socket: the visitor reads the answer in their mail.
            self._relay("message", payload, [AGENTS_ROOM])
            conversations.announce_message(payload)
            return {"ok": True, "message": payload, "emailed": emailed}
        self._relay("message", payload, [conversation_room(target_id), AGENTS_ROOM])
        conversations.announce_message(payload)
        return {"ok": True, "message": payload}

    def on_join(self, data: Any = None) -> dict[str, Any]:
        """An agent opens a conversation: joins its room, gets its history, marks it read."""
        agent, why = self._calling_agent("join conversations")
        if agent is None:
            return _refuse(why)
        conversation = _conversation_for(agent, data)
        if conversation is None:
            return _refuse("no such conversation")
        self.enter_room(_sid(), conversation_room(conversation.id))
        _mark_read(conversation.id)
        return {
            "ok": True,
            "conversation_id": conversation.id,
            "messages": conversations.history(conversation),
            "can_reply": access.agent_may_reply(agent, conversation),
        }

    def on_read(self, data: Any = None) -> dict[str, Any]:
        """An agent has seen a conversation's new messages."""
        agent, why = self._calling_agent("mark conversations read")
        if agent is None:
            return _refuse(why)
        conversation = _conversation_for(agent, data)
        if conversation is None:
            return _refuse("no such conversation")
        _mark_read(conversation.id)
        return {"ok": True}

    def on_edit_message(self, data: Any = None) -> dict[str, Any]:
        """``{message_id, text}``: an agent with ``edit_messages`` edits its own message."""
        agent, why = self._calling_agent("edit messages")
        if agent is None:
            return _refuse(why)
        if not isinstance(data, dict):
            return _refuse("send {message_id, text}")
        try:
            payload = conversations.edit_message(agent, data.get("message_id"), data.get("text"))
        except conversations.ChatError as exc:
            return _refuse(exc.error)
        self._relay("message_edited", payload,
                    [conversation_room(payload["conversation_id"]), AGENTS_ROOM])
        return {"ok": True, "message": payload}

    def on_typing(self, data: Any = None) -> dict[str, Any]:
        """``{conversation_id}``: show the other side that someone is typing."""
        client = self._client()
        conversation_id = _as_id(data.get("conversation_id")) if isinstance(data, dict) else None
        if client is None or conversation_id is None:
            return _refuse("send {conversation_id}")
        if client.typing_too_often():
            return self._flood_refusal(client, "typing", "too many typing events")
        if client.visitor_token is not None:
            if access.visitor_access(client.visitor_token, conversation_id) is None:
                security_log.refused("typing", "not_own_conversation",
                                     conversation=conversation_id)
                return _refuse("not your conversation")
            body = {"conversation_id": conversation_id, "author": "visitor"}
            rooms = [conversation_room(conversation_id), AGENTS_ROOM]
        else:
            agent = self._agent()
            conversation = session().get(Conversation, conversation_id)
            if not access.agent_may_view(agent, conversation):
                return _refuse("no such conversation")
            assert agent is not None
            body = {"conversation_id": conversation_id, "author": "agent",
                    "author_name": agent.public_name}
            rooms = [conversation_room(conversation_id)]
        self._relay("typing", body, rooms, skip_sid=_sid())
        return {"ok": True}

    # -- the conversation workflow (agents only) ----------------------------------------

    def _work(self, action: str, data: Any,
              change: Callable[[Agent, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """The shared preamble of resolve, reopen and assign: who calls, with what."""
        agent, why = self._calling_agent(action)
        if agent is None:
            return _refuse(why)
        if not isinstance(data, dict):
            return _refuse("send {conversation_id}")
        try:
            return {"ok": True, "conversation": change(agent, data)}
        except workflow.WorkflowError as exc:
            return _refuse(exc.error)

    def on_resolve(self, data: Any = None) -> dict[str, Any]:
        """``{conversation_id}``: mark it resolved; agents get ``conversation_updated``."""
        return self._work("resolve conversations", data,
                          lambda agent, body: workflow.resolve(agent, body.get("conversation_id")))

    def on_reopen(self, data: Any = None) -> dict[str, Any]:
        """``{conversation_id}``: mark a resolved conversation open again."""
        return self._work("reopen conversations", data,
                          lambda agent, body: workflow.reopen(agent, body.get("conversation_id")))

    def on_assign(self, data: Any = None) -> dict[str, Any]:
        """``{conversation_id, agent_id}``: give it to an agent, or to nobody (``null``)."""
        if isinstance(data, dict) and "agent_id" not in data:
            return _refuse("send {conversation_id, agent_id} (agent_id null unassigns)")
        return self._work("assign conversations", data, lambda agent, body: workflow.assign(
            agent, body.get("conversation_id"), body.get("agent_id")))

    def on_set_status(self, data: Any = None) -> dict[str, Any]:
        """``{status: "online" | "away"}``: whether this agent takes chats now."""
        agent, why = self._calling_agent("set a status")
        if agent is None:
            return _refuse(why)
        status = data.get("status") if isinstance(data, dict) else None
        try:
            return {"ok": True, "status": agents.set_presence(agent.id, status)}
        except agents.TeamError as exc:
            return _refuse(str(exc))


def _mark_read(conversation_id: int) -> None:
    db = session()
    db.execute(update(Conversation).where(Conversation.id == conversation_id).values(unread_count=0))
    db.commit()


def register(app: Flask, socketio: SocketIO, *, max_body: int) -> None:
    """Attach the namespace to ``socketio``, with its failure answer and its bounds."""
    pending = None
    if socketio.server is not None:  # a host may initialise its own SocketIO later
        pending = PendingConnections(socketio)
        pending.install()
        limit_socket_bodies(app, socketio, max_body)
    socketio.on_namespace(ChatNamespace(NAMESPACE, pending))
    socketio.on_error(NAMESPACE)(socket_error)


