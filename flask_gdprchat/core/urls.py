"""Absolute links for mail, inside a request or outside one (CLI, scheduler).

Inside a request the link points where the visitor is. Outside one it is built
on ``GDPRCHAT_PUBLIC_URL``, else on Flask's ``SERVER_NAME``; with neither there
is no way to know the site's address, and a mail whose link does not work would
break the right it serves (an unsubscribe link above all), so building one fails.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


class NoPublicUrl(RuntimeError):
    """Links cannot be built outside a request: the site's address is not configured."""

    def __init__(self) -> None:
        super().__init__(
            "set GDPRCHAT_PUBLIC_URL (the site's address, like 'https://shop.example') "
            "to send mail with links from the command line or the scheduler"
        )


def can_build_links() -> bool:
    """True where :func:`external_url` works (a request, PUBLIC_URL or SERVER_NAME)."""
    config = current_app.config
    return has_request_context() or bool(
        config.get("GDPRCHAT_PUBLIC_URL") or config.get("SERVER_NAME")
    )


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint``; raises :class:`NoPublicUrl` where none can be built."""
    config = current_app.config
    public = config.get("GDPRCHAT_PUBLIC_URL")
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    if public:
        parts = urlsplit(public)
        adapter = current_app.url_map.bind(
            parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme
        )
        return adapter.build(endpoint, values, force_external=True)
    if config.get("SERVER_NAME"):
        return url_for(endpoint, _external=True, **values)
    raise NoPublicUrl()
