"""A chat server in its own process, for the multi-process tests.

Configured by environment: ``GDPRCHAT_TEST_PORT``, ``GDPRCHAT_TEST_DB_URI``,
``GDPRCHAT_TEST_QUEUE`` (optional ``redis://`` URL), ``GDPRCHAT_TEST_SECRET``,
``MAIL_SERVER``/``MAIL_PORT`` (optional), and:

- ``GDPRCHAT_TEST_SERVER``: ``threading`` (the default) serves with Werkzeug's
  threaded server in a process that is not monkey-patched, gevent installed or
  not; ``gevent`` monkey-patches first and serves as production does
  (``example_app/production.py``: gevent's WSGI server through ``socketio.run``).
- ``GDPRCHAT_TEST_JOBS=1``: the background scheduler runs here, and
  ``POST /_test/run-jobs`` has it run every job now and answers what each returned.

Prints ``READY <port> <async mode>`` on stdout once it listens.
"""
from __future__ import annotations

import os

if os.environ.get("GDPRCHAT_TEST_SERVER") == "gevent":
    from gevent import monkey

    monkey.patch_all()  # before anything imports socket, ssl or threading

import datetime as dt  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from flask import Flask, jsonify  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from flask_gdprchat import GDPRChat  # noqa: E402


def run_jobs_now(app: Flask) -> dict[str, Any]:
    """Have this process's scheduler run every job at once; wait for them all."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    from flask_gdprchat.jobs.scheduler import JOBS

    scheduler = app.extensions["gdprchat"].scheduler  # started by this very request
    results: dict[str, Any] = {}
    finished = threading.Event()

    def heard(event: Any) -> None:
        if event.exception is not None:
            results[event.job_id] = {"error": repr(event.exception)}
        else:  # run_job answers None when it did not get the lease or the job failed
            retval = event.retval
            plain = retval is None or isinstance(retval, (dict, int, str))
            results[event.job_id] = retval if plain else repr(retval)
        if len(results) == len(JOBS):
            finished.set()

    scheduler.add_listener(heard, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        for spec in JOBS:
            scheduler.modify_job(spec.id, next_run_time=dt.datetime.now(dt.timezone.utc))
        finished.wait(60)
    finally:
        scheduler.remove_listener(heard)
    return results


def main() -> None:
    port = int(os.environ["GDPRCHAT_TEST_PORT"])
    jobs = os.environ.get("GDPRCHAT_TEST_JOBS") == "1"
    app = Flask("gdprchat_serve", instance_path=os.environ.get("GDPRCHAT_TEST_INSTANCE", "/tmp"))
    app.config.update(
        SECRET_KEY=os.environ.get("GDPRCHAT_TEST_SECRET", "test-secret"),
        SQLALCHEMY_DATABASE_URI=os.environ["GDPRCHAT_TEST_DB_URI"],
        GDPRCHAT_SCHEDULER=jobs,
        GDPRCHAT_MESSAGE_QUEUE=os.environ.get("GDPRCHAT_TEST_QUEUE") or None,
        GDPRCHAT_MESSAGE_QUEUE_CHANNEL=os.environ.get("GDPRCHAT_TEST_CHANNEL", "gdprchat"),
        MAIL_SERVER=os.environ.get("MAIL_SERVER", "localhost"),
        MAIL_PORT=int(os.environ.get("MAIL_PORT", "25")),
        MAIL_DEFAULT_SENDER="chat@example.test",
    )
    chat = GDPRChat(app)
    mode = chat.socketio.async_mode
    if jobs:
        app.add_url_rule("/_test/run-jobs", "run_jobs", lambda: jsonify(run_jobs_now(app)),
                         methods=["POST"])

    if os.environ.get("GDPRCHAT_TEST_SERVER") == "gevent":
        from example_app.production import serve

        serve(app, "127.0.0.1", port,
              on_ready=lambda address: print(f"READY {address[1]} {mode}", flush=True))
        return
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"READY {port} {mode}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
