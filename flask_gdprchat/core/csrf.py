"""CSRF for our own forms, without imposing CSRF on the host app's views."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, abort, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf


def csrf_token() -> str:
    """The token to put in a form's ``csrf_token`` hidden field."""
    token: str = generate_csrf()
    return token


def check_csrf() -> None:
    """Abort with 400 unless the request carries a valid CSRF token."""
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except (CSRFError, Exception) as exc:  # wtforms raises ValidationError
        abort(400, description=f"The form's security token is missing or expired ({exc}). "
              "Reload the page and try again.")


def protect(bp: Blueprint, *, exempt: Iterable[str] = ()) -> None:
    """Check CSRF on every state-changing request to ``bp`` but the ``exempt`` views."""
    exempt_views = {f"{bp.name}.{name}" if "." not in name else name for name in exempt}

    @bp.before_request
    def _csrf_guard() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.endpoint and any(request.endpoint.endswith(e) for e in exempt_views):
            return
        check_csrf()
