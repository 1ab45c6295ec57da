"""The scheduler: one per serving process, jobs inside the app context, leases honoured."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from flask import Flask, current_app, has_app_context

from flask_gdprchat.core import leases, signals
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.mail import queue_mail
from flask_gdprchat.core.models import Contact, OutboundMail
from flask_gdprchat.core.state import session
from flask_gdprchat.jobs import scheduler
from tests.plugins.retention import ROOT, Seeder, database_uri
from tests.plugins.servers import free_port

DAY = dt.timedelta(days=1)


@pytest.fixture
def scheduled_app(make_app: Any, backend: str) -> Iterator[Flask]:
    """An app with ``GDPRCHAT_SCHEDULER = True``; its scheduler is stopped afterwards."""
    app = make_app(backend, GDPRCHAT_SCHEDULER=True)
    yield app
    scheduler.stop(app)


def started_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "flask_gdprchat.jobs.scheduler" and "scheduler started" in r.getMessage()]


def run_now(app: Flask, job_id: str) -> Any:
    """Trigger a job through the scheduler's own API and wait for it to finish."""
    sched = app.extensions["gdprchat"].scheduler
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def listener(event: Any) -> None:
        if event.job_id == job_id:
            outcome["event"] = event
            done.set()

    sched.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        sched.modify_job(job_id, next_run_time=dt.datetime.now(dt.timezone.utc))
        assert done.wait(timeout=60), f"{job_id} did not run"
    finally:
        sched.remove_listener(listener)
    event = outcome["event"]
    assert event.exception is None
    return event.retval


# -- when it starts --------------------------------------------------------------------------


def test_first_requests_start_exactly_one_scheduler(
    scheduled_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flask_gdprchat.jobs.scheduler")
    state = scheduled_app.extensions["gdprchat"]
    assert state.scheduler is None  # not at init time
    barrier = threading.Barrier(6)

    def request() -> None:
        client = scheduled_app.test_client()
        barrier.wait(timeout=30)
        client.get("/gdprchat/widget.js")

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    scheduled_app.test_client().get("/gdprchat/widget.js")

    assert state.scheduler is not None and state.scheduler.running
    assert {job.id for job in state.scheduler.get_jobs()} == {
        "gdprchat-purge", "gdprchat-outbox", "gdprchat-campaigns",
    }
    assert started_messages(caplog) == [f"scheduler started in process {os.getpid()}"]


def test_no_scheduler_when_turned_off(make_app: Any) -> None:
    app = make_app(GDPRCHAT_SCHEDULER=False)
    app.test_client().get("/gdprchat/widget.js")
    assert app.extensions["gdprchat"].scheduler is None


def test_cli_commands_never_start_it(scheduled_app: Flask) -> None:
    result = scheduled_app.test_cli_runner().invoke(args=["gdprchat", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert scheduled_app.extensions["gdprchat"].scheduler is None
    # An explicit start from inside a command waits for a first request instead.
    with click.Context(click.Command("any")):
        assert scheduler.start(scheduled_app) is False
    assert scheduled_app.extensions["gdprchat"].scheduler is None


def test_explicit_start_waits_in_what_may_be_the_reloader_parent(
    scheduled_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = scheduled_app.extensions["gdprchat"]
    scheduled_app.debug = True
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert scheduler.start(scheduled_app) is False and state.scheduler is None

    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # the reloader's serving child
    assert scheduler.start(scheduled_app) is True and state.scheduler.running
    first = state.scheduler
    assert scheduler.start(scheduled_app) is True and state.scheduler is first


# -- what the jobs do --------------------------------------------------------------------------


def test_the_purge_job_runs_inside_the_app_context(
    scheduled_app: Flask, listen_to: Any
) -> None:
    app = scheduled_app
    with app.app_context():
        seed = Seeder(now=utcnow())
        expired, _ = seed.chat(300 * DAY)
        kept, _ = seed.chat(DAY)
    app.test_client().get("/gdprchat/widget.js")
    seen: list[tuple[bool, bool]] = []

    def receiver(sender: Any, **_kwargs: Any) -> None:
        seen.append((has_app_context(), has_app_context() and current_app._get_current_object()
                     is app))

    signals.purge_completed.connect(receiver)
    try:
        counts = run_now(app, "gdprchat-purge")
    finally:
        signals.purge_completed.disconnect(receiver)

    assert seen == [(True, True)]
    assert counts["contacts"] == 1
    with app.app_context():
        assert session().get(Contact, expired) is None
        assert session().get(Contact, kept) is not None
        assert leases.current_holder("gdprchat-purge") is None  # released


def test_a_job_whose_lease_another_process_holds_does_not_run(scheduled_app: Flask) -> None:
    app = scheduled_app
    with app.app_context():
        expired, _ = Seeder(now=utcnow()).chat(300 * DAY)
        assert leases.acquire("gdprchat-purge", "another-host:1:x")
    app.test_client().get("/gdprchat/widget.js")

    assert run_now(app, "gdprchat-purge") is None
    with app.app_context():
        assert session().get(Contact, expired) is not None
        leases.release("gdprchat-purge", "another-host:1:x")

    assert run_now(app, "gdprchat-purge")["contacts"] == 1


def test_the_outbox_job_delivers_queued_mail(make_app: Any, smtp_server: Any) -> None:
    app = make_app(GDPRCHAT_SCHEDULER=True)
    try:
        with app.app_context():
            queue_mail("someone@example.test", "Hello", "Body")
            session().commit()
        app.test_client().get("/gdprchat/widget.js")

        assert run_now(app, "gdprchat-outbox") == 1
        assert smtp_server.wait_for(1)[0]["Subject"] == "Hello"
        with app.app_context():
            assert session().query(OutboundMail).count() == 0
    finally:
        scheduler.stop(app)


def test_the_campaign_job_runs_the_automatic_campaigns(scheduled_app: Flask) -> None:
    scheduled_app.test_client().get("/gdprchat/widget.js")
    assert run_now(scheduled_app, "gdprchat-campaigns") == 0  # none defined


# -- real processes ----------------------------------------------------------------------------

APP_FILE = '''
import logging, os
from flask import Flask
from flask_gdprchat import GDPRChat
from flask_gdprchat.jobs import scheduler

logging.basicConfig(level=logging.INFO, format="LOG %(name)s %(message)s")


def create_app():
    app = Flask("scheduled", instance_path=os.environ["APP_INSTANCE"])
    app.config.update(SECRET_KEY="test-secret", GDPRCHAT_SCHEDULER=True,
                      SQLALCHEMY_DATABASE_URI=os.environ["APP_DB"])
    GDPRChat(app)
    started = scheduler.start(app)
    print(f"FACTORY pid={os.getpid()} started={started}", flush=True)
    return app
'''


class Lines:
    """Lines of a child's stdout and stderr, read in threads, awaited one by one."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._streams = (proc.stdout, proc.stderr)
        self._readers = [threading.Thread(target=self._read, args=(stream,), daemon=True)
                         for stream in self._streams]
        for reader in self._readers:
            reader.start()

    def close(self) -> None:
        """After the process group ended: let the readers reach the end, close pipes."""
        for reader in self._readers:
            reader.join(timeout=30)
        for stream in self._streams:
            if stream is not None:
                stream.close()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, needle: str, count: int = 1, timeout: float = 60) -> list[str]:
        """Every line seen so far containing ``needle``, once there are ``count``.

        stdout and stderr are read apart, so lines of one are not ordered with
        those of the other: this looks at all lines seen, in any order.
        """
        while True:
            found = [line for line in self.seen if needle in line]
            if len(found) >= count:
                return found
            try:
                self.seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} in {self.seen}") from None


@pytest.fixture
def app_process(make_app: Any, tmp_path: Path) -> Iterator[Any]:
    """``app_process(*flask_args)`` runs ``flask --app <test app> ...`` in its own group."""
    db_app = make_app()  # creates the schema in a SQLite file
    (tmp_path / "scheduled_app.py").write_text(APP_FILE)
    env = {
        **os.environ,
        "APP_DB": database_uri(db_app),
        "APP_INSTANCE": str(tmp_path / "instance"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
    }
    procs: list[tuple[subprocess.Popen, Lines]] = []

    def start(*args: str) -> tuple[subprocess.Popen, Lines]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "scheduled_app:create_app", *args],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        lines = Lines(proc)
        procs.append((proc, lines))
        return proc, lines

    yield start
    for proc, lines in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group: the reloader's child too
        proc.wait(timeout=30)
        lines.close()


@pytest.mark.slow
def test_under_the_debug_reloader_only_the_serving_child_runs_a_scheduler(
    app_process: Any,
) -> None:
    import urllib.request

    port = free_port()
    proc, lines = app_process("run", "--debug", "--port", str(port))
    factories = lines.wait_for("FACTORY", count=2)
    # The reloader's parent builds the app too, but does not start a scheduler.
    assert f"FACTORY pid={proc.pid} started=False" in factories
    (child,) = [line for line in factories if f"pid={proc.pid} " not in line]
    child_pid = int(child.split()[1].split("=")[1])
    assert child.endswith("started=True")
    lines.wait_for(f"scheduler started in process {child_pid}")
    lines.wait_for("Debugger is active")

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/gdprchat/widget.js") as response:
        assert response.status == 200
    lines.wait_for("GET /gdprchat/widget.js")  # the request was served and logged
    assert len(lines.wait_for("scheduler started")) == 1


@pytest.mark.slow
def test_the_foreground_scheduler_runs_until_ctrl_c(app_process: Any) -> None:
    proc, lines = app_process("gdprchat", "scheduler")
    (factory,) = lines.wait_for("FACTORY")
    assert factory.endswith("started=False")  # a command never starts the background one
    lines.wait_for("Scheduler running")

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    lines.wait_for("Scheduler stopped.")
    assert not any("scheduler started" in line for line in lines.seen)
