"""Commands of the campaigns feature (added to ``flask gdprchat``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from flask_gdprchat.cli.group import command_errors, gdprchat_cli


@gdprchat_cli.command("send-campaign")
@click.option("--subject", required=True, help="Subject line (and the campaign's name).")
@click.option("--body", required=True, help="The message, as plain text.")
@click.option("--channel", type=click.Choice(["email", "chat"]), default="email",
              show_default=True)
@with_appcontext
@command_errors
def send_campaign_command(subject: str, body: str, channel: str) -> None:
    """Send a manual campaign now to every contact who opted in to marketing.

    Unsubscribe links are built from Flask's SERVER_NAME and PREFERRED_URL_SCHEME.
    """
    from flask_gdprchat.chat.campaigns import create_and_send

    campaign, reached = create_and_send(subject, body, channel=channel)
    click.echo(f"Campaign {campaign.id} sent by {channel} to {reached} "
               f"{'contact' if reached == 1 else 'contacts'}.")
