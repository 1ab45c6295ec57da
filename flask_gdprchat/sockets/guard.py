"""Bounds on clients that have not proved who they are, and on oversized bodies.

An Engine.IO connection costs a thread (or a greenlet) before any namespace is
connected, so connections that never authenticate are capped per address and
closed after a few seconds. A long-polling POST larger than the transport's
limit is answered 413 at once, before its body is read, instead of leaving the
worker waiting for a body nobody will read.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from flask_gdprchat.core import security_log

#: Connections one address may hold open without an authenticated namespace.
PENDING_PER_ADDRESS = 10
#: Seconds a connection may stay unauthenticated before it is closed.
PENDING_TIMEOUT = 8.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class PendingConnections:
    """Engine.IO connections of this process that have not authenticated yet."""

    def __init__(self, socketio: SocketIO) -> None:
        self._socketio = socketio
        self._pending: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._sweeping = False

    def install(self) -> None:
        """Wrap the Engine.IO connect and disconnect handlers of the server."""
        eio = self._socketio.server.eio
        connect, disconnect = eio.handlers["connect"], eio.handlers["disconnect"]

        def on_connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
            if not self._admit(eio_sid, environ.get("REMOTE_ADDR") or "unknown"):
                return False
            return connect(eio_sid, environ, *args)

        def on_disconnect(eio_sid: str, *args: Any) -> Any:
            self.authenticated(eio_sid)
            return disconnect(eio_sid, *args)

        eio.on("connect", on_connect)
        eio.on("disconnect", on_disconnect)

    def _admit(self, eio_sid: str, address: str) -> bool:
        with self._lock:
            waiting = sum(1 for owner, _ in self._pending.values() if owner == address)
            if waiting >= PENDING_PER_ADDRESS:
                admitted = False
            else:
                self._pending[eio_sid] = (address, time.monotonic())
                admitted = True
            start_sweeper = admitted and not self._sweeping
            self._sweeping = self._sweeping or start_sweeper
        if not admitted:
            security_log.refused("connect", "too_many_unauthenticated_connections")
        if start_sweeper:
            # Started with the first connection, not at start-up: CLI commands and
            # processes that never serve must not carry a background task.
            self._socketio.start_background_task(self._sweep)
        return admitted

    def authenticated(self, eio_sid: str) -> None:
        """The connection proved who it is (or is gone): no longer pending."""
        with self._lock:
            self._pending.pop(eio_sid, None)

    def expired(self, now: float | None = None) -> list[str]:
        """Pending connections older than :data:`PENDING_TIMEOUT`, now forgotten."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [sid for sid, (_, at) in self._pending.items() if now - at > PENDING_TIMEOUT]
            for sid in old:
                del self._pending[sid]
        return old

    def _sweep(self) -> None:
        eio = self._socketio.server.eio
        while True:
            self._socketio.sleep(1.0)
            for eio_sid in self.expired():
                security_log.refused("connect", "unauthenticated_timeout")
                # Gone meanwhile (closed by its client): nothing to close.
                with contextlib.suppress(Exception):
                    eio.disconnect(eio_sid)


def limit_socket_bodies(app: Flask, socketio: SocketIO, limit: int) -> None:
    """Answer an oversized Socket.IO POST with a prompt 413 that closes the connection."""
    path = "/" + str(socketio.server_options.get("path") or "socket.io").strip("/")
    inner: WsgiApp = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(path):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = limit + 1
            if length > limit:
                body = b'{"error": "the request is larger than the chat accepts"}'
                start_response("413 Request Entity Too Large", [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    # The unread body would otherwise hold the connection open.
                    ("Connection", "close"),
                ])
                return [body]
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]
