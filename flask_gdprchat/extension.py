"""The ``GDPRChat`` extension object: the one place that puts the layers together.

Faces (``web``, ``sockets``, ``admin``, ``cli``, ``jobs``) are imported here and
nowhere else is wired to them; they call the domain (``chat``, ``rights``,
``team``, ``retention``), which calls ``core``.
"""
from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask, Response, request
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from flask_gdprchat import admin
from flask_gdprchat.cli import gdprchat_cli
from flask_gdprchat.core import sealing
from flask_gdprchat.core.concurrency import choose_async_mode
from flask_gdprchat.core.config import DEFAULTS, ConfigError, apply_defaults
from flask_gdprchat.core.csrf import csrf_token
from flask_gdprchat.core.database import configure_engine, default_sqlite_uri, migrate_on_start
from flask_gdprchat.core.headers import protect_page
from flask_gdprchat.core.host_migrations import (
    include_name,
    include_object,
    keep_out_of_host_migrations,
)
from flask_gdprchat.core.i18n import init_babel
from flask_gdprchat.core.keystore import keystore_for_app
from flask_gdprchat.core.state import ChatState, VisitorIdentifier, own_session
from flask_gdprchat.jobs import scheduler
from flask_gdprchat.rights.erasure import erase_by_email
from flask_gdprchat.rights.export import export_bytes
from flask_gdprchat.rights.restriction import restrict_by_email
from flask_gdprchat.sockets import namespace
from flask_gdprchat.web import access_log
from flask_gdprchat.web.blueprint import build_blueprint
from flask_gdprchat.web.widget import widget_markup

log = logging.getLogger("flask_gdprchat")


class GDPRChat:
    """GDPR-compliant live chat for a Flask app.

    Each of ``db``, ``socketio`` and ``login_manager`` is optional: the host's own
    instance is reused when given (or already registered on the app); otherwise
    the extension makes its own. With no ``SQLALCHEMY_DATABASE_URI``, data lives in
    SQLite under the app's instance folder.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        socketio: SocketIO | None = None,
        login_manager: LoginManager | None = None,
    ) -> None:
        self._db = db
        self._socketio = socketio
        self._login_manager = login_manager
        #: The host's ``@identify_visitor`` callback, or None.
        self.visitor_identifier: VisitorIdentifier | None = None
        #: The Flask-SocketIO instance in use (``chat.socketio.run(app)``).
        self.socketio: SocketIO | None = socketio
        #: The Flask-SQLAlchemy instance in use.
        self.db: SQLAlchemy | None = db
        if app is not None:
            self.init_app(app)

    # -- registration -----------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app``; raises ``RuntimeError`` the second time."""
        if "gdprchat" in app.extensions:
            raise RuntimeError("flask-gdprchat is already registered on this app")
        apply_defaults(app.config)
        _warn_about_missing_controller(app)
        self._ensure_secret_key(app)
        init_babel(app)

        db, owns_db = self._setup_db(app)
        socketio = self._setup_socketio(app)
        login_manager = self._setup_login(app)
        # Made (and the master key checked) now, so a wrong key fails at start-up;
        # it connects on first use only.
        with app.app_context():
            keystore = keystore_for_app(app, db.engine.url)
        sealing.install()
        state = ChatState(
            chat=self, jobs=scheduler.RUNNER, db=db, socketio=socketio, login_manager=login_manager, owns_db=owns_db,
            keystore=keystore,
        )
        app.extensions["gdprchat"] = state
        self.db, self.socketio = db, socketio

        app.register_blueprint(build_blueprint(app.config["GDPRCHAT_URL_PREFIX"]))
        app.add_template_global(widget_markup, "gdprchat_widget")
        # Our forms (and the dashboard's) need csrf_token() even when the host
        # does not use Flask-WTF's CSRFProtect, which would guard all its views.
        if "csrf_token" not in app.jinja_env.globals:
            app.add_template_global(csrf_token, "csrf_token")
        app.cli.add_command(gdprchat_cli)

        namespace.register(app, socketio, max_body=_max_packet_bytes(app))
        self._protect_pages(app)
        access_log.install(app.config["GDPRCHAT_URL_PREFIX"])
        state.admin = admin.init_admin(app)
        keep_out_of_host_migrations(app)
        scheduler.init_app(app)

        if app.config["GDPRCHAT_AUTO_MIGRATE"]:
            migrate_on_start(app)

    @staticmethod
    def _protect_pages(app: Flask) -> None:
        prefix = app.config["GDPRCHAT_URL_PREFIX"] + "/"

        @app.after_request
        def _headers(response: Response) -> Response:
            # Only the chat's own pages: the host's keep the host's headers.
            return protect_page(response) if request.path.startswith(prefix) else response

        # Cookies are not sent along with cross-site POSTs (a second line behind
        # CSRF tokens); a host that chose its own SameSite keeps it.
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    @staticmethod
    def _ensure_secret_key(app: Flask) -> None:
        if app.secret_key:
            return
        # Sessions and signed links need a key. Keep a generated one in the instance
        # folder so that restarts and sibling processes on this machine agree.
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "gdprchat-secret.key")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        with open(path) as handle:
            app.secret_key = handle.read().strip()
        log.warning("SECRET_KEY is not set; using the key kept in %s", path)

    def _setup_db(self, app: Flask) -> tuple[SQLAlchemy, bool]:
        db = self._db or app.extensions.get("sqlalchemy")
        owns_db = db is None
        if db is None:
            db = SQLAlchemy()
        if "sqlalchemy" not in app.extensions:
            if not app.config.get("SQLALCHEMY_DATABASE_URI") and not app.config.get(
                "SQLALCHEMY_BINDS"
            ):
                app.config["SQLALCHEMY_DATABASE_URI"] = default_sqlite_uri(app)
            db.init_app(app)
        elif app.extensions["sqlalchemy"] is not db:
            raise RuntimeError(
                "the app already has a different Flask-SQLAlchemy instance; pass it as db="
            )
        with app.app_context():
            configure_engine(db.engine, owns_db=owns_db)
        return db, owns_db

    def _setup_socketio(self, app: Flask) -> SocketIO:
        socketio = self._socketio
        ours = False
        if socketio is None:
            existing = app.extensions.get("socketio")
            ours = not isinstance(existing, SocketIO)
            socketio = existing if isinstance(existing, SocketIO) else SocketIO()
        if "socketio" not in app.extensions:
            options: dict[str, Any] = {
                "cors_allowed_origins": app.config["GDPRCHAT_CORS_ALLOWED_ORIGINS"],
                "max_http_buffer_size": _max_packet_bytes(app),
            }
            if ours:
                # Engine.IO and Socket.IO log every packet (message text, visitor
                # tokens) at DEBUG: their loggers stay at ERROR whatever the root's level.
                options.update(logger=False, engineio_logger=False)
            queue = app.config["GDPRCHAT_MESSAGE_QUEUE"]
            if ours:
                # Not Flask-SocketIO's pick (gevent whenever it is installed): what
                # this process can run. A host's own SocketIO keeps the mode it chose.
                options["async_mode"] = choose_async_mode(
                    app.config["GDPRCHAT_ASYNC_MODE"], message_queue=queue
                )
            if queue:
                _require("redis", "redis")
                options["message_queue"] = queue
                options["channel"] = app.config["GDPRCHAT_MESSAGE_QUEUE_CHANNEL"]
            socketio.init_app(app, **options)
        return socketio

    def _setup_login(self, app: Flask) -> LoginManager:
        manager = self._login_manager or getattr(app, "login_manager", None)
        if manager is None:
            manager = LoginManager()
            manager.init_app(app)
            # The app has no users of its own; agents sign in apart (see auth.py).
            manager.user_loader(lambda _user_id: None)
        elif not hasattr(app, "login_manager"):
            manager.init_app(app)
        return manager

    # -- hooks for the host -----------------------------------------------------------

    def identify_visitor(self, func: VisitorIdentifier) -> VisitorIdentifier:
        """Register a function returning the signed-in host user as a visitor.

        It returns ``{"external_id", "name", "email", ...}`` or None. Such visitors
        chat as identified contacts without the pre-chat fields, but still consent.
        """
        self.visitor_identifier = func
        return func

    # -- Python API for host apps -----------------------------------------------------
    # Each call runs in a session of its own: it commits its own work and never
    # commits or rolls back what the host has pending in db.session.

    def export_subject(self, email: str, fmt: str = "json") -> bytes:
        """All personal data and chat history of ``email`` as CSV, JSON or XML bytes."""
        with own_session():
            return export_bytes(email, fmt, channel="api")

    def erase_subject(self, email: str) -> bool:
        """Erase every trace of ``email`` now. Returns False if nothing was held."""
        with own_session():
            return erase_by_email(email, channel="api")

    def restrict_subject(self, email: str) -> bool:
        """Freeze ``email``'s data (Art. 18). Returns False if nothing was held."""
        with own_session():
            return restrict_by_email(email, restricted=True, channel="api")

    def unrestrict_subject(self, email: str) -> bool:
        """Lift a restriction within the grace period. Returns False if none was held."""
        with own_session():
            return restrict_by_email(email, restricted=False, channel="api")

    #: Alembic filters for a host's own ``env.py`` when it runs Alembic without
    #: Flask-Migrate (with Flask-Migrate they are applied by themselves):
    #: ``context.configure(..., include_name=GDPRChat.alembic_include_name)``.
    alembic_include_name = staticmethod(include_name)
    alembic_include_object = staticmethod(include_object)


def _warn_about_missing_controller(app: Flask) -> None:
    # Art. 13 asks for the controller's identity and contact: a privacy page that
    # says "The site owner" and names no address is not enough for a real site.
    missing = [key for key in ("GDPRCHAT_CONTROLLER_NAME", "GDPRCHAT_CONTROLLER_EMAIL")
               if app.config.get(key) in (None, DEFAULTS[key.removeprefix("GDPRCHAT_")])]
    if missing and not app.testing:
        log.warning("%s not set: the privacy page cannot say who is responsible for the "
                    "data and how to reach them", " and ".join(missing))


def _max_packet_bytes(app: Flask) -> int:
    # Room for the longest message in 4-byte UTF-8 plus the envelope; bigger
    # packets are cut off by the transport before any handler runs.
    return app.config["GDPRCHAT_MAX_MESSAGE_LENGTH"] * 4 + 16_384


def _require(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(
            f"this setting needs the '{module}' package: pip install 'flask-gdprchat[{extra}]'"
        ) from None


__all__ = ["GDPRChat"]
