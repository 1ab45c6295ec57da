"""When an agent sign-in may be tried: failures are throttled, never successes.

Failures are counted per address and account together, so a stranger who types
an agent's e-mail address with wrong passwords locks out only themselves. A
spread-out attack on one account (many addresses) stops further tries for that
account, except from an address the agent has signed in from before.
"""
from __future__ import annotations

import datetime as dt

from flask_gdprchat.core import throttle

WINDOW = dt.timedelta(minutes=15)
#: Wrong passwords from one address for one account before it must wait.
FAILURES_PER_ADDRESS = 5
#: Wrong passwords for one account from anywhere before only its usual addresses may try.
FAILURES_PER_ACCOUNT = 50
#: How long a successful sign-in keeps an address "usual" for the agent.
USUAL_FOR = dt.timedelta(days=90)


def _pair(email: str, address: str) -> str:
    return f"{email.strip().lower()}|{address}"


def may_try(email: str, address: str) -> bool:
    """True unless this account and address are throttled now."""
    if throttle.count("login_failed", _pair(email, address), window=WINDOW) >= FAILURES_PER_ADDRESS:
        return False
    if throttle.count("login_failed_account", email, window=WINDOW) < FAILURES_PER_ACCOUNT:
        return True
    return throttle.count("login_usual", _pair(email, address), window=USUAL_FOR) > 0


def failed(email: str, address: str) -> None:
    """Count a wrong password (the caller commits)."""
    throttle.record("login_failed", _pair(email, address))
    throttle.record("login_failed_account", email)


def succeeded(email: str, address: str) -> None:
    """Remember the address as one the agent uses (the caller commits)."""
    throttle.record("login_usual", _pair(email, address))
