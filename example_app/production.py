"""``python example_app/production.py``: the example site served as in production.

gevent's WSGI server, through ``chat.socketio.run``, in a process that gevent
monkey-patched before anything else was imported: that is what lets one process
hold thousands of idle chat sockets, and what the Redis message queue requires
of a gevent process. With the process patched, the chat picks gevent by itself
(``GDPRCHAT_ASYNC_MODE = None``). ``HOST`` and ``PORT`` say where to listen.

It is a script, not ``python -m example_app.production``: ``-m`` would import the
package (Flask, SQLAlchemy, smtplib and ssl) before this file could patch them.
Importing this module patches the importing process, so only an entry point
should (the test and benchmark servers, which want exactly that, do).
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from flask import Flask  # noqa: E402
from gevent import pywsgi  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class NoDelayHandler(pywsgi.WSGIHandler):
    """gevent's request handler, with Nagle's algorithm off on each connection.

    A chat is a stream of small WebSocket frames; with Nagle on, each waits for the
    peer's delayed ACK (about 40 ms on Linux). See docs/deployment.md.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, *args, **kwargs)


def serve(app: Flask, host: str, port: int,
          on_ready: Callable[[tuple[str, int]], None] | None = None) -> None:
    """Serve ``app`` with gevent until the process is stopped.

    ``on_ready(address)`` is called once the socket listens.
    """
    socketio = app.extensions["gdprchat"].socketio
    if socketio.async_mode != "gevent":
        raise RuntimeError(f"the chat runs in {socketio.async_mode!r} mode, not gevent")
    if on_ready is not None:
        gevent.spawn(_when_listening, socketio, on_ready)
    socketio.run(app, host=host, port=port, handler_class=NoDelayHandler, log_output=False)


def _when_listening(socketio: Any, on_ready: Callable[[tuple[str, int]], None]) -> None:
    # A spawned greenlet first runs when the main one yields to the hub, which
    # serve_forever does once it has bound the socket; the loop is a safeguard.
    for _ in range(1000):
        server = socketio.wsgi_server
        if server is not None and server.started:
            on_ready(server.address)
            return
        gevent.sleep(0.01)
    raise RuntimeError("the server did not start listening")


def main() -> None:
    from example_app import create_app
    from example_app.demo import set_up, welcome

    app = create_app()
    accounts = set_up(app)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))

    def ready(address: tuple[str, int]) -> None:
        print(welcome(app, accounts, f"http://{host}:{address[1]}"), flush=True)
        print(f"  Serving with gevent ({socket.gethostname()}, process {os.getpid()})",
              flush=True)

    serve(app, host, port, on_ready=ready)


if __name__ == "__main__":
    main()
