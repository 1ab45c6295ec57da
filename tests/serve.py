"""A chat server in its own process, for the multi-process tests.

Configured by environment: ``GDPRCHAT_TEST_PORT``, ``GDPRCHAT_TEST_DB_URI``,
``GDPRCHAT_TEST_QUEUE`` (optional ``redis://`` URL), ``GDPRCHAT_TEST_SECRET``.
Prints ``READY <port>`` on stdout once it listens.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from flask import Flask  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from flask_gdprchat import GDPRChat  # noqa: E402


def main() -> None:
    port = int(os.environ["GDPRCHAT_TEST_PORT"])
    app = Flask("gdprchat_serve", instance_path=os.environ.get("GDPRCHAT_TEST_INSTANCE", "/tmp"))
    app.config.update(
        SECRET_KEY=os.environ.get("GDPRCHAT_TEST_SECRET", "test-secret"),
        SQLALCHEMY_DATABASE_URI=os.environ["GDPRCHAT_TEST_DB_URI"],
        GDPRCHAT_SCHEDULER=False,
        GDPRCHAT_MESSAGE_QUEUE=os.environ.get("GDPRCHAT_TEST_QUEUE") or None,
        GDPRCHAT_MESSAGE_QUEUE_CHANNEL=os.environ.get("GDPRCHAT_TEST_CHANNEL", "gdprchat"),
    )
    GDPRChat(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"READY {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
