"""The Flask-Admin dashboard at ``P/admin/``.

``init_admin(app)`` (called by ``GDPRChat.init_app``) makes our own ``Admin`` at
``P/admin/`` with endpoint ``gdprchat_admin``, styled like the console. A host
that runs its own Flask-Admin can also put the same screens into it::

    from flask_gdprchat.admin import add_views
    add_views(host_admin)      # after GDPRChat(app) and Admin(app, ...)

Our dashboard stays at ``P/admin/`` either way (it is part of the public
contract); the host's copies get endpoints prefixed with the host admin's own
endpoint, so neither clashes with the other, and adding them twice to one
``Admin`` raises ``RuntimeError``. Every screen decides access the same way,
through :func:`flask_gdprchat.core.access.agent_can` on the signed-in agent.

Our template overrides live in ``admin_templates/gdprchat_admin/`` (shipped in
the wheel as ``flask_gdprchat.admin_templates``); a template-only blueprint puts
that folder on the app's Jinja search path. They use their own
``gdprchat_admin/`` names, so a host's ``admin/*.html`` look is untouched.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from flask_gdprchat.admin.views import DashboardIndexView, build_views
from flask_gdprchat.core.agent_i18n import lazy_agent_gettext
from flask_gdprchat.core.headers import csp_nonce

#: Endpoint (and blueprint-name prefix) of our own Admin.
ENDPOINT = "gdprchat_admin"
BASE_TEMPLATE = "gdprchat_admin/master.html"


def templates_folder() -> Path:
    """Our Flask-Admin templates: inside the package when installed from a wheel,
    else the repository's top-level ``admin_templates/``."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "admin_templates"
    if (installed / "gdprchat_admin").is_dir():
        return installed
    return package.parent / "admin_templates"


def _register_templates(app: Flask) -> None:
    name = f"{ENDPOINT}_templates"
    if name not in app.blueprints:
        app.register_blueprint(Blueprint(name, __name__, template_folder=str(templates_folder())))


def init_admin(app: Flask) -> Admin:
    """Make our dashboard at ``P/admin/`` on ``app`` and return its ``Admin``."""
    _register_templates(app)
    url = app.config["GDPRCHAT_URL_PREFIX"] + "/admin"
    admin = Admin(
        app,
        name="Chat admin",
        url=url,
        endpoint=ENDPOINT,
        index_view=DashboardIndexView(name=lazy_agent_gettext("Overview"), endpoint=ENDPOINT, url=url),
        theme=Bootstrap4Theme(base_template=BASE_TEMPLATE, fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    add_views(admin)
    return admin


def add_views(admin: Admin) -> None:
    """Add the chat's screens (team, settings, campaigns, records) to ``admin``.

    Works on our own ``Admin`` and on a host's. Each screen is shown only to
    agents whose permissions allow it. Raises ``RuntimeError`` if they are
    already on ``admin``.
    """
    prefix = f"{ENDPOINT}_" if admin.endpoint == ENDPOINT else f"{admin.endpoint}_gdprchat_"
    if any(view.endpoint.startswith(prefix) for view in admin._views):
        raise RuntimeError("the chat's admin screens are already on this Admin")
    if admin.app is not None:
        _register_templates(admin.app)
    for view in build_views(prefix, own=admin.endpoint == ENDPOINT):
        admin.add_view(view)


__all__ = ["init_admin", "add_views", "templates_folder"]
