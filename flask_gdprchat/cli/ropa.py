"""``flask gdprchat ropa``: the record of processing activities (Art. 30)."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from flask_gdprchat.cli.group import command_errors, gdprchat_cli
from flask_gdprchat.records.ropa import build_record, render_markdown


@gdprchat_cli.command("ropa")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True, help="Markdown for people, JSON for tools.")
@with_appcontext
@command_errors
def ropa_command(fmt: str) -> None:
    """Print the record of processing activities, built from the settings in force."""
    record = build_record()
    if fmt == "json":
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        click.echo(render_markdown(record), nl=False)
