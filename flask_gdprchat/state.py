"""Per-app state of the extension, reached through ``current_app``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from flask import current_app
from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from flask_login import LoginManager
    from flask_socketio import SocketIO
    from flask_sqlalchemy import SQLAlchemy

    from .extension import GDPRChat


@dataclass
class ChatState:
    """What ``init_app`` set up for one app; kept in ``app.extensions["gdprchat"]``."""

    chat: GDPRChat
    db: SQLAlchemy
    socketio: SocketIO
    login_manager: LoginManager
    #: True when the extension made its own ``db`` (then it may set SQLite pragmas
    #: such as foreign keys that a host's own tables might not expect).
    owns_db: bool = False
    scheduler: Any = None
    admin: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def identify_visitor(self) -> Callable[[], dict[str, Any] | None] | None:
        return self.chat._identify_visitor


def _get_state() -> ChatState:
    try:
        return current_app.extensions["gdprchat"]
    except KeyError:
        raise RuntimeError(
            "flask-gdprchat is not registered on this app: call GDPRChat(app) or init_app(app)"
        ) from None


#: The current app's :class:`ChatState`.
state: ChatState = LocalProxy(_get_state)  # type: ignore[assignment]


def session() -> Any:
    """The SQLAlchemy session of the ``db`` in use."""
    return _get_state().db.session
