"""The extension's HTTP surface: one parent blueprint holding each feature's own."""
from __future__ import annotations

from importlib import import_module

from flask import Blueprint

from . import errors

#: Modules that each define a ``bp`` blueprint, registered under the URL prefix.
FEATURE_MODULES = (
    "auth",
    "widget",
    "api",
    "console",
    "agent_rights",
    "privacy",
    "unsubscribe",
)


def build_blueprint(url_prefix: str) -> Blueprint:
    """A fresh ``gdprchat`` blueprint for one app, with every feature under it."""
    parent = Blueprint(
        "gdprchat",
        __name__,
        url_prefix=url_prefix,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    for name in FEATURE_MODULES:
        module = import_module(f"{__package__}.{name}")
        parent.register_blueprint(module.bp)
    errors.register(parent)
    return parent
