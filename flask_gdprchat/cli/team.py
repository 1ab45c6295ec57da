"""Commands of the team feature (added to ``flask gdprchat``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from flask_gdprchat.cli.group import CommandError, command_errors, gdprchat_cli


@gdprchat_cli.command("delete-agent")
@click.argument("email")
@click.option("--purge", is_flag=True, help="Replace the first name on their messages too.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@command_errors
def delete_agent_command(email: str, purge: bool, yes: bool) -> None:
    """Erase a team member: e-mail, full name, photo and login (their right to be forgotten)."""
    from flask_gdprchat.team.agents import agent_by_email, delete_agent

    agent = agent_by_email(email)
    if agent is None:
        raise CommandError(f"no team member signs in with {email.strip()}")
    what = "and the first name on their messages " if purge else ""
    if not yes:
        click.confirm(
            f"Erase team member {agent.email} {what}permanently?", abort=True, err=True
        )
    agent_id = agent.id
    delete_agent(agent_id, purge=purge, actor="cli")
    kept = "nothing kept" if purge else "first name kept on their messages"
    click.echo(f"Team member {agent_id} erased ({kept}).")
