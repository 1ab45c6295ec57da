"""Agent sign-in and sign-out pages (the session itself lives in ``core.identity``)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request

from flask_gdprchat.core import audit, security_log, sign_in_limits
from flask_gdprchat.core.agent_i18n import _a, agent_page_context, agent_url_for
from flask_gdprchat.core.csrf import protect
from flask_gdprchat.core.identity import (
    agent_required,
    authenticate,
    get_current_agent,
    login_agent,
    logout_agent,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.team.agents import sign_out_everywhere


def _safe_next(target: str | None) -> str:
    default = agent_url_for("gdprchat.console.inbox")
    if not target:
        return default
    parts = urlsplit(target)
    # Only same-site paths: never an open redirect.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


bp = Blueprint("auth", __name__, url_prefix="/agent")
protect(bp)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form for agents and admins."""
    error = None
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        address = request.remote_addr or "unknown"
        if not email or not password:
            error, status = _a("Enter your e-mail and password."), 400
        elif not sign_in_limits.may_try(email, address):
            session().commit()
            security_log.refused("sign_in", "throttled")
            error, status = _a("Too many attempts. Wait a few minutes and try again."), 429
        else:
            agent = authenticate(email, password)
            if agent is None:
                sign_in_limits.failed(email, address)
                session().commit()
                security_log.refused("sign_in", "bad_credentials")
                error, status = (
                    _a("That e-mail and password do not match an active account."), 401)
            else:
                sign_in_limits.succeeded(email, address)
                audit.record("agent_signed_in", actor=f"agent:{agent.id}")
                session().commit()
                login_agent(agent)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("gdprchat/login.html", **agent_page_context(), error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out of the console: this sign-in ends for good, copies of its cookie too."""
    logout_agent()
    flash(_a("You are signed out."))
    return redirect(agent_url_for("gdprchat.auth.login"))


@bp.route("/logout-everywhere", methods=["POST"])
@agent_required()
def logout_everywhere() -> Any:
    """Sign out on every device (a lost phone, a shared computer)."""
    agent = get_current_agent()
    assert agent is not None  # agent_required
    sign_out_everywhere(agent.id, actor=f"agent:{agent.id}")
    logout_agent()
    flash(_a("You are signed out on every device."))
    return redirect(agent_url_for("gdprchat.auth.login"))
