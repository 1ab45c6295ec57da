"""When the retention, outbox and campaign jobs run (APScheduler).

The jobs themselves are plain functions elsewhere (:func:`retention.purge_expired`,
:func:`mail.deliver`, ``campaigns.run_automatic_campaigns``); this module only
decides when, and makes sure that each runs inside ``app.app_context()`` and under
its lease (:mod:`flask_gdprchat.core.leases`), so that with several processes the same
job never runs twice at once.

Where the scheduler runs:

- With ``GDPRCHAT_SCHEDULER = True`` each serving process starts one background
  scheduler at its first request. Not at import or ``init_app`` time: CLI
  commands build the app too and must not start jobs, and the debug reloader's
  parent process, which watches files and never serves, must not run a second
  copy. A forked worker gets its own at its first request.
- :func:`start` starts it explicitly; where that would be the reloader's parent
  or a CLI command, it waits for the first request instead.
- ``flask gdprchat scheduler`` runs the jobs in the foreground
  (:func:`run_foreground`), for deployments whose web processes turn them off.
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from flask_gdprchat.core import leases

log = logging.getLogger("flask_gdprchat.jobs.scheduler")


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: what runs, how often, and how long its lease lasts."""

    name: str
    run: Callable[[Callable[[], None]], Any]
    every: dt.timedelta
    first_after: dt.timedelta
    lease_ttl: dt.timedelta

    @property
    def id(self) -> str:
        """The APScheduler job id, which is also the lease name."""
        return f"gdprchat-{self.name}"


#: Rows sealed per transaction, and at most per purge run, by the scheduled purge.
SEAL_BATCH = 200
SEAL_PER_RUN = 2000


def _purge(keep_lease: Callable[[], None]) -> Any:
    from flask_gdprchat.core.sealing import seal_existing
    from flask_gdprchat.retention.purge import purge_expired

    report = purge_expired(actor="scheduler", on_batch=lambda _report: keep_lease())
    # Values stored before encryption are sealed a bounded share per run, so a site
    # that never ran ``flask gdprchat seal-existing`` still gets there.
    sealed = seal_existing(SEAL_BATCH, limit=SEAL_PER_RUN)
    return dict(report.counts, sealed_rows=sealed) if sealed else report.counts


def _outbox(_keep_lease: Callable[[], None]) -> Any:
    from flask_gdprchat.core.mail import MailError, deliver

    try:
        return deliver()
    except MailError:
        # Stays queued for the next try; the purge gives up on it after a week.
        log.warning("outbox: the mail server cannot be reached; will retry")
        return 0


def _campaigns(_keep_lease: Callable[[], None]) -> Any:
    try:
        from flask_gdprchat.chat.campaigns import run_automatic_campaigns
    except ImportError as exc:
        log.warning("automatic campaigns are not available (%s); skipped", type(exc).__name__)
        return None
    return run_automatic_campaigns(now=None)


#: The jobs, in the order they are added.
JOBS = (
    JobSpec("purge", _purge, dt.timedelta(hours=1), dt.timedelta(minutes=1),
            dt.timedelta(minutes=10)),
    JobSpec("outbox", _outbox, dt.timedelta(minutes=5), dt.timedelta(seconds=30),
            dt.timedelta(minutes=5)),
    JobSpec("campaigns", _campaigns, dt.timedelta(hours=1), dt.timedelta(minutes=2),
            dt.timedelta(minutes=30)),
)


def run_job(app: Flask, spec: JobSpec, holder: str) -> Any:
    """Run one job now, in this thread, inside an app context and under its lease.

    Returns what the job returned, or None when another process holds the lease
    or the job failed. Failures are logged by type only: database errors carry
    the values of their statement, which may be personal data.
    """
    with app.app_context():
        from flask_gdprchat.core.state import session

        try:
            if not leases.acquire(spec.id, holder, ttl=spec.lease_ttl):
                log.debug("job %s skipped: another process runs it", spec.name)
                return None
            renewed = [time.monotonic()]

            def keep_lease() -> None:
                # Renew well before expiry, not after every batch of a long purge.
                if time.monotonic() - renewed[0] < spec.lease_ttl.total_seconds() / 3:
                    return
                if not leases.renew(spec.id, holder, ttl=spec.lease_ttl):
                    raise leases.LeaseLost(spec.id)
                renewed[0] = time.monotonic()

            try:
                return spec.run(keep_lease)
            finally:
                leases.release(spec.id, holder)
        except Exception as exc:
            session().rollback()
            log.error("job %s failed: %s", spec.name, type(exc).__name__)
            log.debug("job %s failure", spec.name, exc_info=True)
            return None


def _add_jobs(app: Flask, scheduler: Any, holder: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for spec in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, spec, holder),
            id=spec.id,
            name=spec.id,
            seconds=spec.every.total_seconds(),
            next_run_time=now + spec.first_after,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(spec.every.total_seconds()),
            replace_existing=True,
        )


# -- the background scheduler of a serving process -----------------------------------------

_start_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Arrange for the scheduler to start at the first request when configured."""
    state = app.extensions["gdprchat"]
    state.extras["scheduler_wanted"] = bool(app.config["GDPRCHAT_SCHEDULER"])

    @app.before_request
    def _start_scheduler_once() -> None:
        if state.extras.get("scheduler_wanted") and not _running_here(state):
            _start_now(app)


def _running_here(state: Any) -> bool:
    # After a fork the scheduler object is copied but its thread is not.
    return state.scheduler is not None and state.extras.get("scheduler_pid") == os.getpid()


def _start_now(app: Flask) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    state = app.extensions["gdprchat"]
    with _start_lock:
        if _running_here(state):
            return
        holder = leases.new_holder_id()
        scheduler = BackgroundScheduler(timezone=dt.timezone.utc, daemon=True)
        _add_jobs(app, scheduler, holder)
        scheduler.start()
        state.scheduler = scheduler
        state.extras["scheduler_pid"] = os.getpid()
        state.extras["scheduler_holder"] = holder
    atexit.register(_shutdown_quietly, scheduler)
    log.info("scheduler started in process %d", os.getpid())


def _shutdown_quietly(scheduler: Any) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)


def _not_serving_yet(app: Flask) -> bool:
    """True where starting now could be a process that never serves requests:
    the debug reloader's parent, or any ``flask`` command (``run`` included, whose
    reloader parent loads the app too). The first request starts it there."""
    import click

    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return False  # the reloader's child: the process that serves
    return app.debug or click.get_current_context(silent=True) is not None


def start(app: Flask) -> bool:
    """Start the background scheduler of this process, once.

    Returns True when it started now (or already ran), False when it will start
    at the first request instead (see :func:`_not_serving_yet`).
    """
    state = app.extensions["gdprchat"]
    state.extras["scheduler_wanted"] = True
    if _running_here(state):
        return True
    if _not_serving_yet(app):
        return False
    _start_now(app)
    return True


def stop(app: Flask, *, wait: bool = True) -> None:
    """Stop this process's scheduler (waiting for running jobs) and forget it."""
    state = app.extensions["gdprchat"]
    state.extras["scheduler_wanted"] = False
    scheduler, state.scheduler = state.scheduler, None
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=wait)


# -- the foreground scheduler of ``flask gdprchat scheduler`` ------------------------------


def run_foreground(app: Flask, *, on_start: Callable[[], None] | None = None) -> None:
    """Run the jobs in this thread until Ctrl-C or SIGTERM, then stop cleanly.

    Running jobs are allowed to finish (a purge stops only between batches).
    """
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=dt.timezone.utc)
    _add_jobs(app, scheduler, leases.new_holder_id())

    stop_requested = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        # Ask the loop to end rather than raising into it: an exception raised
        # wherever the main thread happens to be (inside the scheduler's own
        # bookkeeping) could leave it unable to shut down. Jobs already running
        # finish on their threads; the interpreter waits for them at exit.
        stop_requested.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    def started(_event: Any) -> None:
        if stop_requested.is_set():  # the signal came before the loop was running
            scheduler.shutdown(wait=False)
        elif on_start is not None:
            on_start()

    # SIGINT too: a process started from a script may inherit it ignored, and
    # Ctrl-C is this command's documented way to stop.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.add_listener(started, mask=EVENT_SCHEDULER_STARTED)
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if scheduler.running:
            scheduler.shutdown(wait=True)


class _Runner:
    """These jobs as :class:`flask_gdprchat.core.state.JobRunner` (what the CLI runs)."""

    def plan(self) -> list[tuple[str, float]]:
        return [(spec.name, spec.every.total_seconds()) for spec in JOBS]

    def run_foreground(self, app: Flask, on_start: Callable[[], None] | None = None) -> None:
        run_foreground(app, on_start=on_start)


#: Handed to the CLI through the app state by the extension.
RUNNER = _Runner()

__all__ = ["JOBS", "RUNNER", "JobSpec", "init_app", "start", "stop", "run_job", "run_foreground"]
