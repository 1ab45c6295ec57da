"""The ``flask gdprchat`` command group, the error handling every command shares,
and the foundation's commands. Each feature adds its own from a sibling module;
``flask_gdprchat.cli`` imports them all.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from flask_gdprchat.core.config import PERMISSIONS, ConfigError

F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """One line on stderr and exit status 1 (or ``exit_code``)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def command_errors(func: F) -> F:
    """Turn expected failures into one clear line instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flask_gdprchat.core.state import session

        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, ConfigError, KeyError) as exc:
            session().rollback()
            raise CommandError(str(exc).strip("'\"")) from None
        except SQLAlchemyError as exc:
            session().rollback()
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise CommandError(
                f"database error: {reason} (run 'flask gdprchat init-db' first?)"
            ) from None
        except OSError as exc:
            raise CommandError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group("gdprchat")
def gdprchat_cli() -> None:
    """GDPR-compliant live chat: set-up, subject rights, retention."""


@gdprchat_cli.command("init-db")
@with_appcontext
@command_errors
def init_db_command() -> None:
    """Create or upgrade the chat's tables (safe to run again)."""
    from flask_gdprchat.core.database import init_db

    revision = init_db()
    click.echo(f"Database ready (schema {revision}).")


@gdprchat_cli.command("create-agent")
@click.argument("email")
@click.option("--name", required=True, help="Full name shown to colleagues.")
@click.option("--display-name", help="Name visitors see; default: the first name that is not a "
              "title such as Dr. (from --name).")
@click.option("--password", help="Prompted for when not given.")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice(PERMISSIONS),
    help="Repeat for several; default send_messages.",
)
@click.option("--admin", is_flag=True, help="Every permission, including team and settings.")
@with_appcontext
@command_errors
def create_agent_command(
    email: str, name: str, display_name: str | None, password: str | None,
    permissions: tuple[str, ...], admin: bool,
) -> None:
    """Add a team member who can sign in to the agent console."""
    from flask_gdprchat.core.state import session
    from flask_gdprchat.team.agents import create_agent

    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    agent = create_agent(
        email, name, password, permissions=permissions or ("send_messages",), admin=admin,
        actor="cli", display_name=display_name,
    )
    session().commit()
    role = "admin" if admin else ", ".join(agent.permission_set) or "no permissions"
    click.echo(f"Agent {agent.email} created ({role}); visitors see {agent.public_name}.")
