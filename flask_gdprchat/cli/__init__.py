"""The command line: ``flask gdprchat ...``, one module of commands per feature."""
from __future__ import annotations

from flask_gdprchat.cli import campaigns, keys, retention, rights, ropa, team
from flask_gdprchat.cli.group import gdprchat_cli

__all__ = ["gdprchat_cli", "campaigns", "keys", "retention", "rights", "ropa", "team"]
