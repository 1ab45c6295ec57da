"""Start-up cost: a site whose schema is current starts without loading alembic."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from flask_gdprchat.core.database import (
    MIGRATIONS_DIR,
    VERSION_TABLE,
    schema_is_current,
    script_heads,
)
from flask_gdprchat.core.state import state

ROOT = Path(__file__).resolve().parents[1]
START = (
    "import sys\n"
    "from flask import Flask\n"
    "from flask_gdprchat import GDPRChat\n"
    "app = Flask('s', instance_path=sys.argv[1])\n"
    "app.config.update(SECRET_KEY='s', GDPRCHAT_SCHEDULER=False)\n"
    "GDPRChat(app)\n"
    "print('alembic' in sys.modules)\n"
)


def test_the_heads_read_from_the_files_are_alembics():
    from alembic.script import ScriptDirectory

    assert script_heads() == set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def test_alembic_is_loaded_only_when_the_schema_needs_it(tmp_path):
    def start() -> str:
        done = subprocess.run([sys.executable, "-c", START, str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert start() == "True"   # a new database: migrated
    assert start() == "False"  # current: a plain SELECT said so


def test_a_schema_behind_or_missing_is_not_current(make_app):
    app = make_app()
    with app.app_context():
        engine = state.db.engine
        assert schema_is_current(engine)
        with engine.begin() as connection:
            connection.execute(text(f"DELETE FROM {VERSION_TABLE}"))
            connection.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('0001')"))
        assert not schema_is_current(engine)  # so alembic runs and upgrades
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        assert not schema_is_current(engine)
