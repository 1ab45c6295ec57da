"""Brightsmile Dental: a small clinic site that adds the chat to its own Flask app.

The site has its own database, its own patients and its own sign-in; the chat
reuses the site's ``db`` and ``LoginManager`` and knows a signed-in patient by
name without asking again.
"""
from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template
from flask_login import current_user

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.mail import MailError

from .models import Patient, db, login_manager
from .settings import from_environment


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the site. ``config`` overrides the environment (tests pass theirs)."""
    config = dict(config or {})
    app = Flask(__name__, instance_path=config.pop("INSTANCE_PATH", None))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(from_environment(app.instance_path))
    app.config.update(config)

    db.init_app(app)
    login_manager.init_app(app)

    from .views import bp

    app.register_blueprint(bp)

    chat = GDPRChat(app, db=db, login_manager=login_manager)

    @chat.identify_visitor
    def signed_in_patient() -> dict[str, Any] | None:
        """A signed-in patient chats under their own name and e-mail."""
        if not current_user.is_authenticated or not isinstance(current_user, Patient):
            return None
        return {
            "external_id": f"patient-{current_user.id}",
            "name": current_user.full_name,
            "email": current_user.email,
        }

    @app.errorhandler(MailError)
    def mail_unavailable(_error: MailError) -> tuple[str, int]:
        # A mail server that is down must not look like a broken site.
        return render_template("mail_unavailable.html"), 503

    return app


__all__ = ["create_app", "db", "Patient"]
