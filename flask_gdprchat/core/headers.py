"""Security headers of the chat's own pages: console, dashboard, privacy center.

A strict Content-Security-Policy (scripts from this site or with this
request's nonce only), no framing at all (a framed "Delete chat" button could
be clicked through an invisible overlay), no MIME sniffing. The widget script
is served to host pages and only gets the headers that cannot break them.
"""
from __future__ import annotations

import secrets

from flask import Response, g

_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    # Inline style attributes are used for colours chosen in the dashboard.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


def csp_nonce() -> str:
    """This request's script nonce (the same for every script tag of the page)."""
    nonce: str | None = g.get("_gdprchat_csp_nonce")
    if nonce is None:
        nonce = g._gdprchat_csp_nonce = secrets.token_urlsafe(16)
    return nonce


def protect_page(response: Response) -> Response:
    """Add the page headers; a view that set its own keeps them."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype in ("text/javascript", "application/javascript"):
        return response
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", _POLICY.format(nonce=csp_nonce()))
    return response
