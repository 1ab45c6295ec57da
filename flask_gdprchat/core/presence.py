"""Who on the team can answer a visitor right now.

An agent counts as online when three things hold at once: the account is active
and may answer (``send_messages``), the agent chose "online" in the console
(``Agent.presence``, kept across sign-ins), and at least one console socket of
the agent is open (``gdprchat_sockets``, kept by the socket namespace in every
process). Availability for visitors builds on :func:`agents_online`.
"""
from __future__ import annotations

from sqlalchemy import select

from flask_gdprchat.core import access
from flask_gdprchat.core.models import Agent, LiveSocket
from flask_gdprchat.core.state import session

ONLINE = "online"
AWAY = "away"
#: What ``set_status`` accepts.
PRESENCES = (ONLINE, AWAY)


def online_agents() -> list[Agent]:
    """The agents who can answer now (see the module's docstring), by id."""
    candidates = session().scalars(
        select(Agent)
        .where(Agent.presence == ONLINE, Agent.is_active.is_(True), Agent.deleted_at.is_(None),
               select(LiveSocket.sid).where(LiveSocket.agent_id == Agent.id).exists())
        .order_by(Agent.id)
    )
    # The permission is decided by the one access rule, not re-coded in SQL.
    return [agent for agent in candidates if access.agent_may_be_assigned(agent)]


def agents_online() -> int:
    """How many agents can answer a visitor now."""
    return len(online_agents())


__all__ = ["ONLINE", "AWAY", "PRESENCES", "online_agents", "agents_online"]
