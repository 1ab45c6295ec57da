"""``python -m example_app``: set up the demo and serve it on http://127.0.0.1:5000/.

This is the development server (Werkzeug, threads). ``python example_app/production.py``
serves the same site the way production does, with gevent.
"""
from __future__ import annotations

import logging
import os

from . import create_app
from .demo import set_up, welcome


class _NoProductionNotice(logging.Filter):
    """Drop Werkzeug's "appears to be used in a production deployment" line: this
    entry point is the development server by design, and says so above."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "production deployment" not in record.getMessage()


class _QuietChatTraffic(logging.Filter):
    """Drop the access-log lines of successful Socket.IO polls: a chat window polls
    every few seconds and would push the URLs and the demo login off the screen.
    Errors, and every page request, are still shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        line = record.getMessage()
        return not ("/socket.io/" in line and record.levelno <= logging.INFO
                    and '" 200 ' in line)


def main() -> None:
    app = create_app()
    accounts = set_up(app)
    chat = app.extensions["gdprchat"].chat
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(welcome(app, accounts, f"http://{host}:{port}"), flush=True)
    # Printed when standard input is not a terminal (a script, CI, a container).
    logging.getLogger("werkzeug").addFilter(_NoProductionNotice())
    logging.getLogger("werkzeug").addFilter(_QuietChatTraffic())
    chat.socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
