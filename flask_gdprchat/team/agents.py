"""Team members: creating, changing and erasing agents, and the rules for their details.

Every change that takes a right away from an agent (deletion, disabling, fewer
permissions, losing admin) bumps its ``session_epoch`` and closes its sockets at
once, and no change may leave the team without an active admin.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import func, select, update

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.config import PERMISSIONS
from flask_gdprchat.core.models import Agent, Conversation
from flask_gdprchat.core.passwords import hash_password
from flask_gdprchat.core.state import session

#: What a purged agent's messages show instead of its first name.
PURGED_NAME = "Former agent"

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


class TeamError(ValueError):
    """A team change that cannot be made; the message says why."""


def normalise_email(email: str) -> str:
    """Agents sign in by e-mail, compared without case or surrounding space."""
    return email.strip().lower()


def first_name_of(full_name: str) -> str:
    """The part of a name kept on an erased agent's messages."""
    return full_name.strip().split()[0] if full_name.strip() else "Agent"


def check_permissions(permissions: Iterable[str]) -> list[str]:
    """The permissions, checked against the known names."""
    perms = sorted(set(permissions))
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise TeamError(f"unknown permission {unknown[0]!r}; choose from {', '.join(PERMISSIONS)}")
    return perms


def create_agent(
    email: str,
    name: str,
    password: str,
    *,
    permissions: Iterable[str] = ("send_messages",),
    admin: bool = False,
    actor: str = "system",
) -> Agent:
    """Add a team member (the caller commits). Raises :class:`TeamError` on bad input."""
    email = normalise_email(email)
    if not EMAIL_RE.match(email):
        raise TeamError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise TeamError("the name must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise TeamError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    perms = check_permissions(permissions)
    db = session()
    if db.scalar(select(func.count()).select_from(Agent).where(Agent.email == email)):
        raise TeamError(f"an agent with the e-mail {email} already exists")
    agent = Agent(
        email=email,
        full_name=name.strip(),
        first_name=first_name_of(name),
        password_hash=hash_password(password),
        permissions=" ".join(perms),
        is_admin=admin,
    )
    db.add(agent)
    db.flush()
    audit.record("agent_created", actor=actor, agent_id=agent.id, admin=admin, permissions=perms)
    return agent


def agent_by_email(email: str) -> Agent | None:
    """The team member (not yet deleted) signing in with ``email``, or None."""
    return session().scalars(
        select(Agent).where(Agent.email == normalise_email(email), Agent.deleted_at.is_(None))
    ).first()


def _other_active_admins(agent_id: int) -> int:
    return session().scalar(
        select(func.count())
        .select_from(Agent)
        .where(
            Agent.id != agent_id,
            Agent.is_admin.is_(True),
            Agent.is_active.is_(True),
            Agent.deleted_at.is_(None),
        )
    )


def _keep_an_admin(agent: Agent) -> None:
    """Refuse a change that would leave no active admin to run the team."""
    if (agent.is_admin and agent.is_active and agent.deleted_at is None
            and not _other_active_admins(agent.id)):
        raise TeamError("this is the last active admin: make another team member admin first")


def _end_sessions(agent: Agent) -> None:
    # The epoch ends every signed-in browser at its next request; the sockets
    # are closed after the commit by the caller (see :func:`_close_sockets`).
    agent.session_epoch = (agent.session_epoch or 0) + 1


def _close_sockets(agent_id: int) -> None:
    from flask_gdprchat.core.push import disconnect_agent

    disconnect_agent(agent_id)


def get_agent(agent_id: int) -> Agent:
    """The agent with this id; raises :class:`TeamError` when there is none."""
    agent = session().get(Agent, agent_id)
    if agent is None:
        raise TeamError(f"there is no team member with id {agent_id}")
    return agent


def update_agent(
    agent_id: int,
    *,
    permissions: Iterable[str] | None = None,
    admin: bool | None = None,
    active: bool | None = None,
    actor: str = "system",
) -> Agent:
    """Change an agent's permissions, admin role or enabled state, and commit.

    Taking any right away ends the agent's open sessions and sockets at once.
    Raises :class:`TeamError` (and changes nothing) for a deleted agent, unknown
    permissions, or a change that would leave no active admin.
    """
    db = session()
    agent = get_agent(agent_id)
    if agent.deleted_at is not None:
        raise TeamError("a deleted team member cannot be changed")
    new_perms = check_permissions(permissions) if permissions is not None else sorted(
        agent.permission_set
    )
    new_admin = agent.is_admin if admin is None else bool(admin)
    new_active = agent.is_active if active is None else bool(active)
    if (agent.is_admin and not new_admin) or (agent.is_active and not new_active):
        _keep_an_admin(agent)
    downgraded = (
        (agent.is_admin and not new_admin)
        or (agent.is_active and not new_active)
        or not set(new_perms) >= agent.permission_set
    )
    changed = (
        set(new_perms) != agent.permission_set
        or new_admin != agent.is_admin
        or new_active != agent.is_active
    )
    if not changed:
        return agent
    agent.permissions = " ".join(new_perms)
    agent.is_admin = new_admin
    agent.is_active = new_active
    if downgraded:
        _end_sessions(agent)
    audit.record(
        "agent_changed", actor=actor, agent_id=agent.id, admin=new_admin, active=new_active,
        permissions=new_perms,
    )
    db.commit()
    if downgraded:
        _close_sockets(agent.id)
    return agent


def delete_agent(agent_id: int, *, purge: bool, actor: str = "system") -> None:
    """Erase a team member (the employee's right to be forgotten), and commit.

    The e-mail, full name, photo and login go; the agent is disabled, its
    sessions and sockets end, and its messages stay under its first name only.
    ``purge`` replaces the first name too. The erased values are scrubbed from
    the SQLite file. Raises :class:`TeamError` for an unknown agent or the last
    active admin.
    """
    from flask_gdprchat.core.database import scrub_free_space

    db = session()
    agent = get_agent(agent_id)
    if agent.deleted_at is not None and not purge:
        raise TeamError("this team member is already deleted")
    _keep_an_admin(agent)
    agent.email = None
    agent.full_name = None
    agent.photo = None
    agent.password_hash = None
    agent.permissions = ""
    agent.is_admin = False
    agent.is_active = False
    agent.deleted_at = agent.deleted_at or utcnow()
    if purge:
        agent.first_name = PURGED_NAME
    _end_sessions(agent)
    # Open conversations go back to the shared inbox instead of a tombstone.
    db.execute(
        update(Conversation)
        .where(Conversation.assigned_agent_id == agent.id)
        .values(assigned_agent_id=None)
    )
    audit.record("agent_erased", actor=actor, agent_id=agent.id, purged=purge)
    db.commit()
    scrub_free_space()
    _close_sockets(agent.id)
    signals.agent_erased.send(current_app._get_current_object(), agent_id=agent.id, purged=purge)
