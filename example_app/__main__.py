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


def main() -> None:
    app = create_app()
    accounts = set_up(app)
    chat = app.extensions["gdprchat"].chat
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(welcome(app, accounts, f"http://{host}:{port}"), flush=True)
    # Printed when standard input is not a terminal (a script, CI, a container).
    logging.getLogger("werkzeug").addFilter(_NoProductionNotice())
    chat.socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
