"""Team members: creating agents and the rules for their details."""
from __future__ import annotations

import re
from typing import Iterable

from sqlalchemy import func, select

from . import audit
from .config import PERMISSIONS
from .models import Agent
from .passwords import hash_password
from .state import session

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
