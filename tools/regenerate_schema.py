"""Regenerate the initial migration from the models (before the first release only).

After a release, add a new revision instead: never rewrite one users have run.
"""
from __future__ import annotations

import tempfile

from alembic import command
from flask import Flask

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.database import MIGRATIONS_DIR, _alembic_config
from flask_gdprchat.core.state import state

for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
    old.unlink()
app = Flask(__name__, instance_path=tempfile.mkdtemp())
app.config["SECRET_KEY"] = "schema"
GDPRChat(app)
with app.app_context(), state.db.engine.begin() as connection:
    command.revision(
        _alembic_config(connection), message="initial schema", autogenerate=True, rev_id="0001"
    )
print("written:", *sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0001_*.py")))
