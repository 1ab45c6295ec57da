"""Who the agent behind a request is: the agent session and its checks.

An agent's sign-in lives under its own session key, next to (never instead of)
the host app's Flask-Login user: a shop owner signed in as a customer can sign in
to the console too, and the host's ``current_user`` stays the host's.

The key holds the agent id, its ``session_epoch`` and a random sign-in token
whose hash is a row of ``gdprchat_agent_sessions``. Signing out deletes the row,
so a copy of the cookie opens nothing afterwards; bumping the epoch (deletion,
disabling, a permission change) ends every sign-in of the agent at once.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import (
    abort,
    g,
    redirect,
    request,
)
from flask import (
    session as flask_session,
)
from sqlalchemy import delete, select
from werkzeug.local import LocalProxy

from flask_gdprchat.core import access, push, security_log
from flask_gdprchat.core.agent_i18n import _a, agent_url_for
from flask_gdprchat.core.models import Agent, AgentSession
from flask_gdprchat.core.passwords import check_password, hash_password, needs_rehash
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is

SESSION_KEY = "_gdprchat_agent"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SignIn:
    """A live agent sign-in: the agent and the row that keeps the sign-in alive."""

    agent: Agent
    session_id: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_in_from(data: Any) -> SignIn | None:
    """The live sign-in a session value names, or None if it is stale or invalid."""
    if not (isinstance(data, (list, tuple)) and len(data) == 3):
        return None
    agent_id, epoch, token = data
    if not (isinstance(agent_id, int) and isinstance(epoch, int) and isinstance(token, str)
            and 0 < len(token) <= 100):
        return None
    row = session().execute(
        select(Agent, AgentSession.id)
        .join(AgentSession, AgentSession.agent_id == Agent.id)
        .where(Agent.id == agent_id, AgentSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    agent, session_id = row
    if not access.agent_is_active(agent) or agent.session_epoch != epoch:
        return None
    return SignIn(agent, session_id)


def agent_from_session(data: Any) -> Agent | None:
    """The active agent a session value names, or None if it is stale or invalid."""
    sign_in = sign_in_from(data)
    return sign_in.agent if sign_in is not None else None


def current_sign_in() -> SignIn | None:
    """This request's sign-in, checked against the database once."""
    if "_gdprchat_sign_in" not in g:
        g._gdprchat_sign_in = sign_in_from(flask_session.get(SESSION_KEY))
    sign_in: SignIn | None = g._gdprchat_sign_in
    return sign_in


def get_current_agent() -> Agent | None:
    """The agent signed in on this request, checked against the database once."""
    sign_in = current_sign_in()
    return sign_in.agent if sign_in is not None else None


#: The signed-in agent of this request, or None.
current_agent: Agent | None = LocalProxy(get_current_agent)  # type: ignore[assignment]


def login_agent(agent: Agent) -> None:
    """Start an agent sign-in: a new row and a fresh token in the cookie. Commits."""
    token = secrets.token_urlsafe(32)
    row = AgentSession(agent_id=agent.id, token_hash=_digest(token))
    db = session()
    db.add(row)
    db.commit()
    flask_session[SESSION_KEY] = [agent.id, agent.session_epoch, token]
    g._gdprchat_sign_in = SignIn(agent, row.id)


def logout_agent() -> None:
    """End this sign-in for good: its row, its sockets and the cookie's key. Commits.

    The host's own sign-in is left alone.
    """
    sign_in = current_sign_in()
    flask_session.pop(SESSION_KEY, None)
    g.pop("_gdprchat_sign_in", None)
    if sign_in is None:
        return
    sids = push.sign_in_sids(sign_in.session_id)
    db = session()
    db.execute(delete(AgentSession).where(AgentSession.id == sign_in.session_id))
    db.commit()
    push.close_sockets(sids)


def end_all_sign_ins(agent_id: int) -> int:
    """Delete every sign-in of an agent (the caller commits and closes its sockets)."""
    result = session().execute(delete(AgentSession).where(AgentSession.agent_id == agent_id))
    return int(getattr(result, "rowcount", 0) or 0)


def agent_required(permission: str | None = None) -> Callable[[F], F]:
    """View decorator: sign-in page when signed out, 403 without ``permission``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            agent = get_current_agent()
            if agent is None:
                if request.method == "GET":
                    # The sign-in page keeps a ?lang= the agent chose.
                    return redirect(agent_url_for("gdprchat.auth.login", next=request.full_path))
                abort(401, description=_a("Sign in to the agent console first."))
            if not access.agent_can(agent, permission):
                security_log.refused(request.endpoint or "view", "missing_permission",
                                     agent=agent.id, permission=permission)
                abort(403, description=_a("This needs the '%(permission)s' permission.",
                                          permission=permission))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def authenticate(email: str, password: str) -> Agent | None:
    """The active agent with these credentials, or None."""
    agent = session().scalars(select(Agent).where(agent_email_is(email))).first()
    if not check_password(agent.password_hash if agent else None, password):
        return None
    if not access.agent_is_active(agent):
        return None
    assert agent is not None and agent.password_hash is not None
    if needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    return agent
