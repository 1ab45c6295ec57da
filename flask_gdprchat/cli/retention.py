"""Commands of the retention feature (added to ``flask gdprchat``)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from flask_gdprchat.cli.group import CommandError, command_errors, gdprchat_cli
from flask_gdprchat.core.database import ping
from flask_gdprchat.core.state import state
from flask_gdprchat.retention.purge import purge_expired


@gdprchat_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
@with_appcontext
@command_errors
def purge_command(dry_run: bool) -> None:
    """Apply the retention rules now and print what was removed."""
    report = purge_expired(dry_run=dry_run, actor="cli")
    click.echo(report.summary())


@gdprchat_cli.command("scheduler")
@with_appcontext
@command_errors
def scheduler_command() -> None:
    """Run the scheduled jobs (purge, outbox, campaigns) in the foreground; Ctrl-C stops."""
    jobs = state.jobs
    if jobs is None:
        raise CommandError("this app runs no scheduled jobs")
    ping()  # a wrong database URL fails here, once, not in every job
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    plan = ", ".join(f"{name} every {_every(seconds)}" for name, seconds in jobs.plan())

    def announce() -> None:
        click.echo(f"Scheduler running ({plan}); press Ctrl-C to stop.")

    try:
        jobs.run_foreground(app, on_start=announce)
    except OSError as exc:
        raise CommandError(f"scheduler stopped: {exc}") from None
    click.echo("Scheduler stopped.")


def _every(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"
