"""Agent sign-in and sign-out pages (the session itself lives in ``core.identity``)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for

from flask_gdprchat.core import audit
from flask_gdprchat.core.csrf import protect
from flask_gdprchat.core.identity import authenticate, login_agent, logout_agent
from flask_gdprchat.core.state import session
from flask_gdprchat.core.throttle import allow


def _safe_next(target: str | None) -> str:
    default = url_for("gdprchat.console.inbox")
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
        if not email or not password:
            error, status = "Enter your e-mail and password.", 400
        elif not allow("login", email, limit=10, window=dt.timedelta(minutes=15)):
            session().commit()
            error, status = "Too many attempts. Wait a few minutes and try again.", 429
        else:
            agent = authenticate(email, password)
            if agent is None:
                session().commit()
                error, status = "That e-mail and password do not match an active account.", 401
            else:
                audit.record("agent_signed_in", actor=f"agent:{agent.id}")
                session().commit()
                login_agent(agent)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("gdprchat/login.html", error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out of the console."""
    logout_agent()
    flash("You are signed out.")
    return redirect(url_for("gdprchat.auth.login"))
