"""Registering the extension on bare apps and on apps with their own db, SocketIO, login."""
from __future__ import annotations

import os

import pytest
from flask import Flask
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import inspect

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.database import init_db

from .conftest import login


def test_bare_app_gets_sqlite_in_instance_folder_and_its_own_services(tmp_path):
    app = Flask("bare", instance_path=str(tmp_path / "inst"))
    app.config["SECRET_KEY"] = "s"
    app.config["GDPRCHAT_SCHEDULER"] = False
    chat = GDPRChat(app)

    state = app.extensions["gdprchat"]
    assert state.chat is chat
    assert state.owns_db
    assert chat.socketio is app.extensions["socketio"]
    assert isinstance(app.login_manager, LoginManager)
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith(
        os.path.join("inst", "gdprchat.sqlite3")
    )
    with app.app_context():
        init_db()
        tables = inspect(state.db.engine).get_table_names()
        with state.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert {"gdprchat_contacts", "gdprchat_messages", "gdprchat_agents"} <= set(tables)
    assert all(t.startswith("gdprchat_") for t in tables)
    assert app.test_client().get("/gdprchat/widget.js").status_code == 200


def test_app_without_secret_key_keeps_a_generated_one(tmp_path):
    first = Flask("a", instance_path=str(tmp_path))
    first.config["GDPRCHAT_SCHEDULER"] = False
    GDPRChat(first)
    second = Flask("b", instance_path=str(tmp_path))
    second.config["GDPRCHAT_SCHEDULER"] = False
    GDPRChat(second)
    assert first.secret_key and first.secret_key == second.secret_key


def test_host_with_its_own_db_socketio_and_login_manager(tmp_path):
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(
        SECRET_KEY="s",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}",
        GDPRCHAT_SCHEDULER=False,
    )
    db = SQLAlchemy(app)
    socketio = SocketIO(app)
    login_manager = LoginManager(app)

    class Customer(UserMixin, db.Model):
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(100))

    @login_manager.user_loader
    def load(user_id):
        return db.session.get(Customer, int(user_id))

    @app.route("/shop/login/<int:uid>")
    def shop_login(uid):
        login_user(db.session.get(Customer, uid))
        return "ok"

    @app.route("/shop/me")
    def me():
        return current_user.email if current_user.is_authenticated else "anonymous"

    chat = GDPRChat(app, db=db, socketio=socketio, login_manager=login_manager)
    assert chat.socketio is socketio
    assert app.extensions["gdprchat"].db is db
    assert app.extensions["gdprchat"].login_manager is login_manager
    assert not app.extensions["gdprchat"].owns_db

    with app.app_context():
        db.create_all()
        init_db()
        db.session.add(Customer(email="buyer@example.test"))
        db.session.commit()
        from flask_gdprchat.team.agents import create_agent

        create_agent("agent@example.test", "Alice Agent", "correct horse battery", admin=True)
        db.session.commit()
        tables = set(inspect(db.engine).get_table_names())
    assert {"customer", "gdprchat_agents"} <= tables

    client = app.test_client()
    client.get("/shop/login/1")
    assert client.get("/shop/me").get_data(as_text=True) == "buyer@example.test"
    # An agent signs in beside the host's customer, not instead of them.
    assert login(client, "agent@example.test").status_code == 302
    assert client.get("/gdprchat/agent/").status_code == 200
    assert client.get("/shop/me").get_data(as_text=True) == "buyer@example.test"


def test_second_init_app_on_the_same_app_fails_clearly(tmp_path):
    app = Flask("twice", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", GDPRCHAT_SCHEDULER=False)
    chat = GDPRChat(app)
    with pytest.raises(RuntimeError, match="already registered"):
        chat.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        GDPRChat(app)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("GDPRCHAT_ANONYMOUS_RETENTION_DAYS", -5),
        ("GDPRCHAT_ANONYMOUS_RETENTION_DAYS", "270"),
        ("GDPRCHAT_PRECHAT_FIELDS", ["name", "shoe_size"]),
        ("GDPRCHAT_URL_PREFIX", "chat/"),
        ("GDPRCHAT_MESSAGE_QUEUE", "amqp://localhost"),
        ("GDPRCHAT_STORE_IP", "yes"),
        ("GDPRCHAT_TOKEN_MAX_AGE", 0),
        ("GDPRCHAT_RETENTION_DAYS", 10),
    ],
)
def test_a_wrong_config_value_fails_at_start_up_naming_the_key(tmp_path, key, value):
    app = Flask("bad", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", GDPRCHAT_SCHEDULER=False)
    app.config[key] = value
    with pytest.raises(ConfigError, match=key):
        GDPRChat(app)
    assert "gdprchat" not in app.extensions


def test_required_prechat_fields_must_be_shown(tmp_path):
    app = Flask("bad", instance_path=str(tmp_path))
    app.config.update(
        SECRET_KEY="s", GDPRCHAT_PRECHAT_FIELDS=["name"], GDPRCHAT_PRECHAT_REQUIRED=["email"]
    )
    with pytest.raises(ConfigError, match="GDPRCHAT_PRECHAT_REQUIRED"):
        GDPRChat(app)


def test_defaults_match_the_contract(app):
    cfg = app.config
    assert cfg["GDPRCHAT_URL_PREFIX"] == "/gdprchat"
    assert cfg["GDPRCHAT_PRIVACY_POLICY_VERSION"] == "1"
    assert cfg["GDPRCHAT_PRECHAT_FIELDS"] == ["name", "email", "company", "phone"]
    assert cfg["GDPRCHAT_PRECHAT_REQUIRED"] == []
    assert cfg["GDPRCHAT_ANONYMOUS_RETENTION_DAYS"] == 270
    assert cfg["GDPRCHAT_IDENTIFIED_RETENTION_DAYS"] is None
    assert cfg["GDPRCHAT_RESTRICTED_GRACE_DAYS"] == 183
    assert cfg["GDPRCHAT_MESSAGE_QUEUE"] is None
    assert cfg["GDPRCHAT_TOKEN_MAX_AGE"] == 86400
    assert cfg["GDPRCHAT_MAX_MESSAGE_LENGTH"] == 5000
    assert cfg["GDPRCHAT_STORE_IP"] is False


def test_custom_url_prefix_moves_every_route(make_app):
    app = make_app(GDPRCHAT_URL_PREFIX="/support")
    client = app.test_client()
    assert client.get("/support/widget.js").status_code == 200
    assert client.get("/gdprchat/widget.js").status_code == 404


def test_widget_template_global_points_at_the_script(app):
    with app.test_request_context("/"):
        markup = app.jinja_env.from_string("{{ gdprchat_widget() }}").render()
    assert '<script src="/gdprchat/widget.js"' in markup


def test_tables_are_ready_as_the_app_starts_without_init_db(tmp_path):
    app = Flask("auto", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", GDPRCHAT_SCHEDULER=False)
    GDPRChat(app)
    started = app.test_client().post(
        "/gdprchat/api/conversations", json={"consent": True, "policy_version": "1"}
    )
    assert started.status_code == 201


def test_auto_migrate_can_be_left_to_init_db(tmp_path):
    app = Flask("manual", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", GDPRCHAT_SCHEDULER=False, GDPRCHAT_AUTO_MIGRATE=False)
    GDPRChat(app)
    with app.app_context():
        assert "gdprchat_contacts" not in inspect(app.extensions["gdprchat"].db.engine).get_table_names()


def test_an_in_memory_database_gets_its_tables_too(tmp_path):
    app = Flask("memory", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", GDPRCHAT_SCHEDULER=False, SQLALCHEMY_DATABASE_URI="sqlite://")
    GDPRChat(app)
    client = app.test_client()
    started = client.post("/gdprchat/api/conversations", json={"consent": True, "policy_version": "1"})
    assert started.status_code == 201


def test_several_processes_starting_at_once_migrate_once(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from flask import Flask\n"
        "from flask_gdprchat import GDPRChat\n"
        "app = Flask('w', instance_path=sys.argv[1])\n"
        "app.config.update(SECRET_KEY='s', GDPRCHAT_SCHEDULER=False)\n"
        "sys.stdin.readline()  # start together\n"
        "GDPRChat(app)\n"
        "print('started')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], [err for _, err in results]
    assert all(out.strip() == "started" for out, _ in results)
    import sqlite3

    from alembic.script import ScriptDirectory

    from flask_gdprchat.core.database import MIGRATIONS_DIR

    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    with sqlite3.connect(tmp_path / "gdprchat.sqlite3") as db:
        # One row per head of the schema, written once however many processes raced.
        rows = db.execute("SELECT version_num FROM gdprchat_alembic_version").fetchall()
    assert sorted(r[0] for r in rows) == sorted(heads)


def test_a_site_without_a_controller_is_warned_at_start_up(tmp_path, caplog):
    from flask import Flask

    from flask_gdprchat import GDPRChat

    app = Flask("nocontroller", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="x", GDPRCHAT_SCHEDULER=False)
    with caplog.at_level("WARNING", logger="flask_gdprchat"):
        GDPRChat(app)
    assert "GDPRCHAT_CONTROLLER_NAME and GDPRCHAT_CONTROLLER_EMAIL not set" in caplog.text
    named = Flask("named", instance_path=str(tmp_path / "b"))
    named.config.update(SECRET_KEY="x", GDPRCHAT_SCHEDULER=False,
                        GDPRCHAT_CONTROLLER_NAME="Shop Ltd", GDPRCHAT_CONTROLLER_EMAIL="dpo@shop.test")
    caplog.clear()
    with caplog.at_level("WARNING", logger="flask_gdprchat"):
        GDPRChat(named)
    assert "CONTROLLER" not in caplog.text
