"""The extension's HTTP surface: one parent blueprint holding each feature's own."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint

from flask_gdprchat.core.i18n import template_helpers
from flask_gdprchat.web import (
    api,
    auth,
    console,
    contact_actions,
    errors,
    privacy,
    unsubscribe,
    widget,
)

#: Each feature's blueprint, registered under the URL prefix in this order.
FEATURES = (auth, widget, api, console, contact_actions, privacy, unsubscribe)

#: Templates and static files live at the package's top, shared with mail.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def build_blueprint(url_prefix: str) -> Blueprint:
    """A fresh ``gdprchat`` blueprint for one app, with every feature under it."""
    parent = Blueprint(
        "gdprchat",
        __name__,
        url_prefix=url_prefix,
        root_path=str(PACKAGE_ROOT),
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    # Our templates translate through our own domain; the host's `_` stays the host's.
    parent.context_processor(template_helpers)
    for module in FEATURES:
        parent.register_blueprint(module.bp)
    errors.register(parent)
    return parent
