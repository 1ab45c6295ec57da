"""Commands of the key store (added to ``flask gdprchat``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from flask_gdprchat.cli.group import CommandError, command_errors, gdprchat_cli


@gdprchat_cli.command("rotate-master-key")
@click.option("--new-key", metavar="KEY",
              help="The new master key (url-safe base64 of 32 bytes); default: a generated one.")
@click.option("--generate", is_flag=True, help="Generate the new master key (the default).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@command_errors
def rotate_master_key_command(new_key: str | None, generate: bool, yes: bool) -> None:
    """Re-wrap every subject key and the blind-index key under a new master key.

    One transaction of the key store; the chat's data is not touched. A generated
    master key is replaced in its file in the instance folder; a configured one
    (GDPRCHAT_MASTER_KEY) is printed once, and the configuration of every process
    must then be changed to it.
    """
    from flask_gdprchat.core.key_rotation import rotate_master_key
    from flask_gdprchat.core.keystore import KeyStoreError, keystore
    from flask_gdprchat.core.master_key import generate_key, parse_key

    if new_key is not None and generate:
        raise CommandError("give --new-key KEY or --generate, not both")
    if new_key is not None:
        try:
            parse_key(new_key)
        except ValueError as exc:
            raise CommandError(f"--new-key: {exc}") from None
    store = keystore()
    configured = store.master_key_path is None
    text = new_key if new_key is not None else generate_key()
    if not yes:
        where = ("shown here once, for GDPRCHAT_MASTER_KEY" if configured
                 else f"kept in {store.master_key_path}")
        click.confirm(f"Re-wrap every key under a new master key ({where})? The old key "
                      "stops opening the key store", abort=True, err=True)
    show = configured and new_key is None

    def _show_new_key() -> None:
        # Before the key store changes: the key must not exist only in this process.
        if show:
            click.echo(f"New master key (shown once): {text}")

    try:
        rotation = rotate_master_key(text, before_commit=_show_new_key)
    except (KeyStoreError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        unused = "; the key shown above is not in use" if show else ""
        raise CommandError(f"key store unchanged: {reason}{unused}") from None
    click.echo(f"Re-wrapped {rotation.rewrapped} {'key' if rotation.rewrapped == 1 else 'keys'} "
               f"under master key {rotation.new_key_id} (was {rotation.old_key_id}); "
               "the chat's data is unchanged.")
    if rotation.kept_in is not None:
        click.echo(f"The new master key is kept in {rotation.kept_in}.")
    else:
        click.echo("Set GDPRCHAT_MASTER_KEY to the new key in the configuration of every "
                   "process now, and restart them: with the old key they cannot open keys.")


@gdprchat_cli.command("seal-existing")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="Rows sealed per transaction.")
@with_appcontext
@command_errors
def seal_existing_command(batch_size: int) -> None:
    """Encrypt the personal data stored before encryption, batch by batch.

    Each batch commits on its own: interrupted, the command loses nothing, and run
    again it goes on where it stopped. A database that holds nothing plain
    reports 0.
    """
    from flask_gdprchat.core.keystore import KeyStoreError
    from flask_gdprchat.core.sealing import seal_existing

    try:
        sealed = seal_existing(batch_size)
    except (KeyStoreError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CommandError(f"sealing stopped (what was sealed so far stays sealed): {reason}") \
            from None
    click.echo(f"Sealed {sealed} {'row' if sealed == 1 else 'rows'}; nothing plain is left.")
