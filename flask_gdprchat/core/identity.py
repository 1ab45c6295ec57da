"""Who the agent behind a request is: the agent session and its checks.

An agent's sign-in lives under its own session key, next to (never instead of)
the host app's Flask-Login user: a shop owner signed in as a customer can sign in
to the console too, and the host's ``current_user`` stays the host's. The key
holds the agent id and its ``session_epoch``; bumping the epoch (deletion,
disabling, a permission change) ends every open session at its next request.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    abort,
    g,
    redirect,
    request,
    url_for,
)
from flask import (
    session as flask_session,
)
from werkzeug.local import LocalProxy

from flask_gdprchat.core import access
from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.passwords import check_password, hash_password, needs_rehash
from flask_gdprchat.core.state import session

SESSION_KEY = "_gdprchat_agent"

F = TypeVar("F", bound=Callable[..., Any])


def agent_from_session(data: Any) -> Agent | None:
    """The active agent a session value names, or None if it is stale or invalid."""
    if not (isinstance(data, (list, tuple)) and len(data) == 2):
        return None
    agent_id, epoch = data
    if not isinstance(agent_id, int) or not isinstance(epoch, int):
        return None
    agent = session().get(Agent, agent_id)
    if agent is None or not access.agent_is_active(agent) or agent.session_epoch != epoch:
        return None
    return agent


def get_current_agent() -> Agent | None:
    """The agent signed in on this request, checked against the database once."""
    if "_gdprchat_current_agent" not in g:
        g._gdprchat_current_agent = agent_from_session(flask_session.get(SESSION_KEY))
    agent: Agent | None = g._gdprchat_current_agent
    return agent


#: The signed-in agent of this request, or None.
current_agent: Agent | None = LocalProxy(get_current_agent)  # type: ignore[assignment]


def login_agent(agent: Agent) -> None:
    """Start an agent session."""
    flask_session[SESSION_KEY] = [agent.id, agent.session_epoch]
    g._gdprchat_current_agent = agent


def logout_agent() -> None:
    """End the agent session (the host's own sign-in is left alone)."""
    flask_session.pop(SESSION_KEY, None)
    g.pop("_gdprchat_current_agent", None)


def agent_required(permission: str | None = None) -> Callable[[F], F]:
    """View decorator: sign-in page when signed out, 403 without ``permission``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            agent = get_current_agent()
            if agent is None:
                if request.method == "GET":
                    return redirect(url_for("gdprchat.auth.login", next=request.full_path))
                abort(401, description="Sign in to the agent console first.")
            if not access.agent_can(agent, permission):
                abort(403, description=f"This needs the '{permission}' permission.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def authenticate(email: str, password: str) -> Agent | None:
    """The active agent with these credentials, or None."""
    agent = session().query(Agent).filter_by(email=email.strip().lower()).first()
    if not check_password(agent.password_hash if agent else None, password):
        return None
    if not access.agent_is_active(agent):
        return None
    assert agent is not None and agent.password_hash is not None
    if needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    return agent
