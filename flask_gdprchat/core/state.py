"""Per-app state of the extension, reached through ``current_app``."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app
from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from flask_login import LoginManager
    from flask_socketio import SocketIO
    from flask_sqlalchemy import SQLAlchemy
    from flask_sqlalchemy.session import Session
    from sqlalchemy.orm import scoped_session

    from flask_gdprchat.core.keystore import KeyStore

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
    #: The subjects' data keys, kept apart from the data (see core/keystore.py).
    keystore: KeyStore | None = None
    #: Seal personal data at rest (see core/sealing.py). Always on; turned off only
    #: by the benchmarks, to measure in one run what encryption costs.
    seal_at_rest: bool = True
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


#: The session of an :func:`own_session` block, with the state it belongs to.
_own: ContextVar[tuple[ChatState, Session] | None] = ContextVar("gdprchat_own_session", default=None)


def session() -> Session | scoped_session[Session]:
    """The SQLAlchemy session of the ``db`` in use (or of the :func:`own_session` block)."""
    current = _get_state()
    own = _own.get()
    if own is not None and own[0] is current:
        return own[1]
    return current.db.session


@contextmanager
def own_session() -> Iterator[Session]:
    """Run the enclosed work in a session of its own, on the same engine.

    Inside the block :func:`session` returns that session, so the chat's commits
    and rollbacks never reach the host's pending ``db.session`` work. It is closed
    at the end (uncommitted work in it is rolled back). Blocks nest: an inner one
    reuses the outer session.

    On SQLite one connection writes at a time: when the host's ``db.session``
    already holds an uncommitted write (it flushed), the chat's session could only
    wait for a lock that the same caller holds, so this refuses at once instead.
    """
    current = _get_state()
    outer = _own.get()
    if outer is not None and outer[0] is current:
        yield outer[1]
        return
    if _host_holds_sqlite_write(current):
        raise RuntimeError(
            "the app's db.session holds an uncommitted write on this SQLite database, "
            "and SQLite lets one connection write at a time: commit or roll back first"
        )
    # A fresh session made like db.session (same engine, same options), not the
    # one this app context shares with the host.
    own = current.db.session.session_factory()
    token = _own.set((current, own))
    try:
        yield own
    finally:
        _own.reset(token)
        own.close()


def _host_holds_sqlite_write(current: ChatState) -> bool:
    host = current.db.session
    if current.db.engine.dialect.name != "sqlite" or not host.registry.has():
        return False
    pending = host()
    if not pending.in_transaction():
        return False
    # pysqlite opens a transaction on the connection only for a write.
    dbapi_connection = pending.connection().connection.dbapi_connection
    return bool(getattr(dbapi_connection, "in_transaction", False))
