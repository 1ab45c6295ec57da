"""Team members: creating, changing and erasing agents, and the rules for their details.

Every change that takes a right away from an agent (deletion, disabling, fewer
permissions, losing admin) bumps its ``session_epoch`` and closes its sockets at
once, and no change may leave the team without an active admin.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import func, select

from flask_gdprchat.core import access, audit, deletion, signals
from flask_gdprchat.core.config import PERMISSIONS
from flask_gdprchat.core.identity import end_all_sign_ins
from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.passwords import hash_password
from flask_gdprchat.core.presence import PRESENCES
from flask_gdprchat.core.push import disconnect_agent
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is

#: What a purged agent's messages show instead of its first name.
PURGED_NAME = "Former agent"

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


class TeamError(ValueError):
    """A team change that cannot be made; the message says why."""


def normalise_email(email: str) -> str:
    """Agents sign in by e-mail, compared without case or surrounding space."""
    return email.strip().lower()


#: Words that open a name without being one ("Dr. Jane Smith" signs as "Jane").
TITLES = frozenset({"dr", "prof", "mr", "mrs", "ms", "mx", "miss", "sir", "dame", "herr",
                    "frau", "mme", "mlle", "dott", "ing", "mag"})


def first_name_of(name: str) -> str:
    """The first word of a name that is not a title such as "Dr." or "Ms."

    It is both the display name an agent gets by default and the part of the
    display name kept on an erased agent's messages (the "first name only" of
    the employee's erasure), so what visitors read never changes at deletion
    for an agent whose display name is a single first name.
    """
    words = name.split()
    for word in words:
        if word.rstrip(".").lower() not in TITLES:
            return word
    return words[0] if words else "Agent"


def check_display_name(display_name: str) -> str:
    """The display name, trimmed; :class:`TeamError` if blank or too long."""
    shown = " ".join(display_name.split())
    if not shown:
        raise TeamError("the display name must not be empty")
    if len(shown) > 255:
        raise TeamError("the display name must be at most 255 characters")
    return shown


def _show_as(agent: Agent, display_name: str) -> None:
    # The kept first name follows the display name, never the full name: the
    # name visitors knew is the one an erased agent's messages keep.
    agent.display_name = display_name
    agent.first_name = first_name_of(display_name)


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
    display_name: str | None = None,
) -> Agent:
    """Add a team member (the caller commits). Raises :class:`TeamError` on bad input.

    ``display_name`` is what visitors see; by default the first word of ``name``
    that is not a title (see :func:`first_name_of`).
    """
    email = normalise_email(email)
    if not EMAIL_RE.match(email):
        raise TeamError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise TeamError("the name must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise TeamError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    perms = check_permissions(permissions)
    shown = check_display_name(display_name if display_name else first_name_of(name))
    db = session()
    if db.scalar(select(func.count()).select_from(Agent).where(agent_email_is(email))):
        raise TeamError(f"an agent with the e-mail {email} already exists")
    agent = Agent(
        email=email,
        full_name=name.strip(),
        password_hash=hash_password(password),
        permissions=" ".join(perms),
        is_admin=admin,
    )
    _show_as(agent, shown)
    db.add(agent)
    db.flush()
    audit.record("agent_created", actor=actor, agent_id=agent.id, admin=admin, permissions=perms)
    return agent


def agent_by_email(email: str) -> Agent | None:
    """The team member (not yet deleted) signing in with ``email``, or None."""
    return session().scalars(
        select(Agent).where(agent_email_is(email), Agent.deleted_at.is_(None))
    ).first()


def _other_active_admins(agent_id: int) -> int:
    return session().scalar(  # type: ignore[return-value]  # count() is never NULL
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
    # The epoch ends every signed-in browser at its next request and the
    # sign-in rows go too; the sockets are closed after the commit by the caller
    # (see :func:`_close_sockets`).
    agent.session_epoch = (agent.session_epoch or 0) + 1
    end_all_sign_ins(agent.id)


def _close_sockets(agent_id: int) -> None:
    disconnect_agent(agent_id)


def sign_out_everywhere(agent_id: int, *, actor: str) -> None:
    """End every sign-in of an agent, on every device, and close its sockets. Commits.

    The agent can sign in again at once: nothing else about it changes.
    """
    agent = get_agent(agent_id)
    _end_sessions(agent)
    audit.record("agent_signed_out_everywhere", actor=actor, agent=agent.id)
    session().commit()
    _close_sockets(agent.id)


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
    display_name: str | None = None,
) -> Agent:
    """Change an agent's permissions, admin role, enabled state or display name; commit.

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
    new_shown = check_display_name(display_name) if display_name is not None else None
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
    if new_shown is not None and new_shown != agent.display_name:
        _show_as(agent, new_shown)
        changed = True
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

    The e-mail, full name, photo and login go, and the agent's data key is
    destroyed with them; the agent is disabled, its sessions and sockets end, and
    its messages stay under its first name only.
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
    # What stays is first_name: the display name's first word (see first_name_of).
    if purge:
        agent.first_name = PURGED_NAME
    db.flush()
    # The key, the values, the sign-ins, the assignments: one erasure, which the
    # purge repeats for a copy a restored backup brings back.
    deletion.erase_agents([agent.id])
    db.expire(agent)
    audit.record("agent_erased", actor=actor, agent_id=agent_id, purged=purge)
    db.commit()
    scrub_free_space()
    _close_sockets(agent_id)
    signals.agent_erased.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        agent_id=agent_id, purged=purge,
    )


def set_presence(agent_id: int, presence: object) -> str:
    """Set an agent ``online`` or ``away`` in the console, and commit.

    Raises :class:`TeamError` for another value or an agent who cannot sign in.
    """
    if presence not in PRESENCES:
        raise TeamError(f"the status must be one of {', '.join(PRESENCES)}")
    agent = session().get(Agent, agent_id)
    if not access.agent_is_active(agent):
        raise TeamError("this team member cannot sign in")
    assert agent is not None
    if agent.presence != presence:
        agent.presence = presence
        session().commit()
    return presence
