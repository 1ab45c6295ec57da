"""Per-app state of the extension, reached through ``current_app``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app
from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from flask_login import LoginManager
    from flask_socketio import SocketIO
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import Session, scoped_session

#: The host's ``@chat.identify_visitor`` callback: its signed-in user, or None.
VisitorIdentifier = Callable[[], "dict[str, Any] | None"]


class HostHooks(Protocol):
    """What the extension object offers the layers below it (set by the host)."""

    visitor_identifier: VisitorIdentifier | None


class JobRunner(Protocol):
    """The scheduled jobs, as the command line runs them in the foreground."""

    def plan(self) -> list[tuple[str, float]]:
        """Each job's name and its interval in seconds."""

    def run_foreground(self, app: Flask, on_start: Callable[[], None] | None = None) -> None:
        """Run every job on its schedule until interrupted."""


@dataclass
class ChatState:
    """What ``init_app`` set up for one app; kept in ``app.extensions["gdprchat"]``."""

    #: The extension object, as far as the layers below may see it.
    chat: HostHooks
    db: SQLAlchemy
    socketio: SocketIO
    login_manager: LoginManager
    #: True when the extension made its own ``db`` (then it may set SQLite pragmas
    #: such as foreign keys that a host's own tables might not expect).
    owns_db: bool = False
    #: The jobs, given by the composition root (the CLI runs them, never imports them).
    jobs: JobRunner | None = None
    scheduler: Any = None
    admin: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def identify_visitor(self) -> VisitorIdentifier | None:
        """The host's visitor callback in force now (it may be registered after init_app)."""
        return self.chat.visitor_identifier


def _get_state() -> ChatState:
    try:
        state: ChatState = current_app.extensions["gdprchat"]
    except KeyError:
        raise RuntimeError(
            "flask-gdprchat is not registered on this app: call GDPRChat(app) or init_app(app)"
        ) from None
    return state


#: The current app's :class:`ChatState`.
state: ChatState = LocalProxy(_get_state)  # type: ignore[assignment]


def session() -> scoped_session[Session]:
    """The SQLAlchemy session of the ``db`` in use."""
    return _get_state().db.session
