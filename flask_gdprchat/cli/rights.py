"""Commands of the rights feature (added to ``flask gdprchat``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from flask_gdprchat.cli.group import CommandError, command_errors, gdprchat_cli


@gdprchat_cli.command("export")
@click.argument("email")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "xml"]), required=True,
              help="csv, json (complete, machine-readable) or xml.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="File to write; standard output when not given.")
@with_appcontext
@command_errors
def export_command(email: str, fmt: str, output: str | None) -> None:
    """Export everything held about EMAIL (Art. 15 and 20)."""
    from flask_gdprchat.rights.export import export_bytes

    data = export_bytes(email, fmt, channel="cli")
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
        click.echo(f"Export written to {output} ({len(data)} bytes).", err=True)
    else:
        click.echo(data, nl=False)  # bytes go to the binary stream untouched


@gdprchat_cli.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@command_errors
def erase_command(email: str, yes: bool) -> None:
    """Erase everything held about EMAIL, at once and for good (Art. 17)."""
    from flask_gdprchat.core.subjects import contacts_for_email
    from flask_gdprchat.rights.erasure import erase_contacts

    contacts = contacts_for_email(email)
    if not contacts:
        raise CommandError("no data is held for that e-mail address")
    if not yes:
        click.confirm(
            f"Erase {len(contacts)} {'contact' if len(contacts) == 1 else 'contacts'} with every conversation and consent record? "
            "This cannot be undone", abort=True, err=True,
        )
    removed = erase_contacts(contacts, channel="cli")
    summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(removed.counts.items()))
    click.echo(f"Erased: {summary}.")


@gdprchat_cli.command("verify-erasure")
@click.argument("email")
@with_appcontext
@command_errors
def verify_erasure_command(email: str) -> None:
    """Exit 0 if nothing of EMAIL remains; exit 1 naming where a trace is.

    Refuses (exit 2) anything that is not an e-mail address: "No trace" of a
    typo would be a false proof.
    """
    from flask_gdprchat.rights.verification import check_email, find_traces, searched_places

    try:
        check_email(email)
    except ValueError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    traces = find_traces(email)
    if traces:
        raise CommandError("traces of the subject remain in: " + ", ".join(traces))
    click.echo(f"No trace of the subject remains in {searched_places()}.")


@gdprchat_cli.command("audit-verify")
@with_appcontext
@command_errors
def audit_verify_command() -> None:
    """Check the audit log's hash chain; exit 1 naming the first broken event."""
    from flask_gdprchat.core.audit import verify_chain

    report = verify_chain()
    if not report.ok:
        raise CommandError(
            f"audit chain broken at event {report.broken_at}: {report.reason} "
            f"({report.checked} events before it are intact)"
        )
    click.echo(f"Audit log intact: {report.checked} events checked.")
