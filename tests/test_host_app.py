"""The chat inside a real host app (the Flask Mega-Tutorial's shape: app factory, its
own Flask-SQLAlchemy ``db`` and ``User``, Flask-Login, Flask-Migrate).

The host's migrations never see the chat's tables, the Python API keeps to its own
transaction, ``verify-erasure`` means the same on both backends, and the host's
SQLite file keeps its journal mode with nothing new beside it.
"""
from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.models import Contact, SubjectRequest
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import email_is

#: The host, as a developer following the README writes it.
HOST_APP = '''
"""Microblog: a host app with its own users."""
import os

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_gdprchat import GDPRChat

db = SQLAlchemy()
migrate = Migrate()
login = LoginManager()
chat = GDPRChat(db=db, login_manager=login)


class User(UserMixin, db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)


@login.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))


def create_app(**config):
    app = Flask(__name__, instance_path=os.environ["HOST_INSTANCE"])
    app.config.update(
        SECRET_KEY="host-secret",
        SQLALCHEMY_DATABASE_URI=os.environ["HOST_DATABASE_URL"],
        GDPRCHAT_SCHEDULER=False,
        MAIL_DEFAULT_SENDER="chat@example.test",
    )
    app.config.update(config)
    db.init_app(app)
    if os.environ.get("HOST_CHAT_FIRST"):
        chat.init_app(app)
        migrate.init_app(app, db)
    else:
        migrate.init_app(app, db)
    login.init_app(app)
    if not os.environ.get("HOST_CHAT_FIRST"):
        chat.init_app(app)
    return app
'''


@dataclass
class Host:
    """The host app written to a folder, run in-process or through its ``flask``."""

    root: Path
    backend: str
    env: dict[str, str]
    module: ModuleType | None = None
    apps: list[Flask] = field(default_factory=list)

    @property
    def db_file(self) -> Path:
        return self.root / "app.db"

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``flask --app microblog:create_app ARGS`` in a process of its own."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "microblog:create_app", *args],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=180,
        )

    def load(self) -> ModuleType:
        if self.module is None:
            name = f"microblog_{uuid.uuid4().hex[:8]}"
            spec = importlib.util.spec_from_file_location(name, self.root / "microblog.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # Flask finds the app's root path through it
            spec.loader.exec_module(module)
            self.module = module
        return self.module

    def app(self, *, create_tables: bool = False, **config: Any) -> Flask:
        """The host app in this process (its ``user`` table made when asked)."""
        saved = {k: os.environ.get(k) for k in self.env if k.startswith("HOST_")}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HOST_")})
        try:
            app = self.load().create_app(**config)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.apps.append(app)
        if create_tables:
            with app.app_context():
                self.module.db.create_all()  # type: ignore[union-attr]
        return app

    @property
    def db(self) -> Any:
        return self.load().db

    @property
    def chat(self) -> GDPRChat:
        return self.load().chat

    @property
    def User(self) -> Any:  # noqa: N802 - the host's model class
        return self.load().User


@pytest.fixture
def make_host(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``make_host(backend, chat_first=False)``: the microblog host in ``tmp_path``.

    On PostgreSQL the host (and so the chat) lives in a schema of its own, dropped at
    the end, so its autogenerate sees no table another test left behind.
    """
    hosts: list[Host] = []
    schemas: list[tuple[str, str]] = []

    def factory(backend: str = "sqlite", *, chat_first: bool = False) -> Host:
        root = tmp_path / f"host{len(hosts)}"
        root.mkdir()
        (root / "microblog.py").write_text(HOST_APP)
        if backend == "postgres":
            server = request.getfixturevalue("postgres_database")
            schema = f"host_{uuid.uuid4().hex[:10]}"
            engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            engine.dispose()
            schemas.append((server, schema))
            url = server.replace("postgresql://", "postgresql+psycopg://", 1)
            url += f"?options=-csearch_path%3D{schema}"
        elif backend == "sqlite":
            url = f"sqlite:///{root / 'app.db'}"
        else:
            raise ValueError(backend)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "HOST_"))}
        env.update(HOST_DATABASE_URL=url, HOST_INSTANCE=str(root / "instance"))
        if chat_first:
            env["HOST_CHAT_FIRST"] = "1"
        host = Host(root=root, backend=backend, env=env)
        hosts.append(host)
        return host

    yield factory
    for host in hosts:
        for app in host.apps:
            with app.app_context():
                host.db.session.remove()
                host.db.engine.dispose()
        if host.module is not None:
            sys.modules.pop(host.module.__name__, None)
    for server, schema in schemas:
        engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def start_chat(app: Flask, email: str) -> dict[str, Any]:
    """A visitor starts a conversation through the public API."""
    response = app.test_client().post("/gdprchat/api/conversations", json={
        "name": "Vera Visitor", "email": email, "consent": True, "policy_version": "1",
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def unique_email(who: str) -> str:
    return f"{who}.{uuid.uuid4().hex[:8]}@example.test"


def count_users(host: Host, app: Flask) -> int:
    """Users in the database as a fresh connection sees them (committed rows only)."""
    with app.app_context(), host.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(host.User.__table__)).scalar_one()


# -- 1. the host's migrations ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "chat_first"),
    [
        ("sqlite", False),
        ("sqlite", True),
        pytest.param("postgres", False, marks=pytest.mark.postgres),
    ],
    ids=["sqlite-migrate-first", "sqlite-chat-first", "postgres"],
)
def test_the_hosts_autogenerate_never_plans_the_chats_tables(make_host, backend, chat_first):
    host = make_host(backend, chat_first=chat_first)
    init = host.flask("db", "init")
    assert init.returncode == 0, init.stderr
    versions = host.root / "migrations" / "versions"

    first = host.flask("db", "migrate", "-m", "users")
    assert first.returncode == 0, first.stderr
    (revision,) = list(versions.glob("*.py"))
    script = revision.read_text()
    upgrade_part = script.split("def downgrade")[0]
    assert "op.create_table('user'" in upgrade_part
    assert "drop_table" not in upgrade_part
    assert "gdprchat_" not in script

    upgrade = host.flask("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    second = host.flask("db", "migrate", "-m", "nothing")
    assert second.returncode == 0, second.stderr
    assert "No changes in schema detected" in second.stdout + second.stderr
    assert list(versions.glob("*.py")) == [revision]

    # The chat still works, and so does the host's own code.
    app = host.app()
    started = start_chat(app, unique_email("visitor"))
    assert started["conversation_id"]
    with app.app_context():
        host.db.session.add(host.User(username="miguel", email="miguel@example.test"))
        host.db.session.commit()
    assert count_users(host, app) == 1


@pytest.mark.parametrize("chat_first", [False, True], ids=["migrate-first", "chat-first"])
def test_flask_migrate_filters_chain_the_hosts_own(make_host, chat_first):
    host = make_host(chat_first=chat_first)
    host.load()
    def legacy_out(obj, name, type_, reflected, compare_to):
        return name != "legacy"

    # As ``Migrate(include_object=legacy_out)`` would set it.
    host.module.migrate.alembic_ctx_kwargs["include_object"] = legacy_out
    app = host.app()
    with app.app_context():  # `flask db` pushes one, as here
        options = app.extensions["migrate"].configure_args
    include_object = options["include_object"]
    assert not include_object(None, "gdprchat_contacts", "table", True, None)
    assert not include_object(None, "gdprchat_alembic_version", "table", True, None)
    assert not include_object(None, "legacy", "table", True, None)  # the host's rule holds
    assert include_object(None, "user", "table", True, None)
    assert not options["include_name"]("gdprchat_messages", "table", {})
    assert options["include_name"]("user", "table", {})
    with app.app_context():  # again: chained once, not once per app context
        assert app.extensions["migrate"].configure_args["include_object"] is include_object


def test_plain_alembic_env_uses_the_chats_filters(make_host):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    host = make_host()
    app = host.app(create_tables=True)
    with app.app_context(), host.db.engine.connect() as conn:
        bare = compare_metadata(MigrationContext.configure(conn), host.db.metadata)
        filtered = compare_metadata(MigrationContext.configure(conn, opts={
            "include_name": GDPRChat.alembic_include_name,
            "include_object": GDPRChat.alembic_include_object,
        }), host.db.metadata)
    assert any(diff[0] == "remove_table" and diff[1].name.startswith("gdprchat_") for diff in bare)
    assert filtered == []


# -- 2. the Python API keeps to its own transaction ---------------------------------------


def api_call(host: Host, action: str, email: str) -> Any:
    chat = host.chat
    if action == "export":
        return chat.export_subject(email, "json")
    return {"erase": chat.erase_subject, "restrict": chat.restrict_subject}[action](email)


def assert_done(action: str, email: str, result: Any) -> None:
    """The API's own work is committed, whatever the host then rolls back."""
    contacts = session().scalars(sa.select(Contact).where(email_is(email))).all()
    if action == "erase":
        assert result is True and contacts == []
    elif action == "restrict":
        assert result is True and [c.restricted_at is not None for c in contacts] == [True]
    else:
        assert email.encode() in result
        kinds = session().scalars(sa.select(SubjectRequest.kind)).all()
        assert "export" in kinds


@pytest.mark.parametrize("action", ["erase", "restrict", "export"])
def test_the_api_neither_commits_nor_rolls_back_the_hosts_pending_work(make_host, backend, action):
    host = make_host(backend)
    app = host.app(create_tables=True)
    email = unique_email("subject")
    start_chat(app, email)
    with app.app_context():
        pending = host.User(username="pending", email="pending@example.test")
        host.db.session.add(pending)
        result = api_call(host, action, email)
        assert pending in host.db.session.new  # still the host's, untouched
        host.db.session.rollback()
    assert count_users(host, app) == 0
    with app.app_context():
        assert_done(action, email, result)


@pytest.mark.postgres
@pytest.mark.parametrize("action", ["erase", "restrict", "export"])
def test_on_postgres_a_flushed_host_write_is_left_alone_too(make_host, action):
    host = make_host("postgres")
    app = host.app(create_tables=True)
    email = unique_email("subject")
    start_chat(app, email)
    with app.app_context():
        host.db.session.add(host.User(username="flushed", email="flushed@example.test"))
        host.db.session.flush()
        result = api_call(host, action, email)
        host.db.session.rollback()
    assert count_users(host, app) == 0
    with app.app_context():
        assert_done(action, email, result)


def test_on_sqlite_a_flushed_host_write_is_refused_at_once(make_host):
    host = make_host("sqlite")
    # Were the call to wait for the host's write lock, it would wait this long and
    # then fail with "database is locked", not the clear error below.
    app = host.app(create_tables=True, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 120}})
    email = unique_email("subject")
    start_chat(app, email)
    with app.app_context():
        host.db.session.add(host.User(username="flushed", email="flushed@example.test"))
        host.db.session.flush()
        with pytest.raises(RuntimeError, match="uncommitted write on this SQLite database"):
            host.chat.erase_subject(email)
        host.db.session.commit()  # the host's work is intact; then the call goes through
        assert host.chat.erase_subject(email) is True
    assert count_users(host, app) == 1


# -- 3. verify-erasure: one definition on both backends ------------------------------------


def test_verify_erasure_in_a_host_database(make_host, backend):
    host = make_host(backend)
    app = host.app(create_tables=True)
    customer, visitor = unique_email("customer"), unique_email("visitor")
    with app.app_context():
        host.db.session.add(host.User(username="customer", email=customer))
        host.db.session.commit()
    runner = app.test_cli_runner()

    never_chatted = runner.invoke(args=["gdprchat", "verify-erasure", customer])
    assert never_chatted.exit_code == 0, never_chatted.output
    assert "No trace" in never_chatted.stdout and "the chat's tables" in never_chatted.stdout
    if backend == "sqlite":
        assert "app's own" in never_chatted.stdout  # says its bytes were not searched

    start_chat(app, visitor)
    before = runner.invoke(args=["gdprchat", "verify-erasure", visitor])
    assert before.exit_code == 1
    assert "gdprchat_contacts.email" in before.stderr
    assert "app.db" not in before.stderr
    with app.app_context():
        assert host.chat.erase_subject(visitor) is True
    after = runner.invoke(args=["gdprchat", "verify-erasure", visitor])
    assert after.exit_code == 0, after.output


def test_verify_erasure_checkpoints_before_it_reads_the_chats_own_files(make_app, monkeypatch):
    from flask_gdprchat.core.database import database_files
    from flask_gdprchat.rights import erasure

    app = make_app()
    email = unique_email("legacy")
    with app.app_context():
        # A contact stored before encryption: its address is plain in the table.
        session().execute(sa.insert(Contact.__table__).values(
            email=email, name="Lena Legacy", created_at=sa.func.now(),
            last_activity_at=sa.func.now(), marketing_consent=False, link_epoch=0))
        session().commit()
    # As when a reader held the erasure's own checkpoint back.
    monkeypatch.setattr(erasure, "scrub_free_space", lambda: None)
    with app.app_context():
        assert app.extensions["gdprchat"].chat.erase_subject(email) is True
        wal = [p for p in database_files() if str(p).endswith("-wal")]
        assert wal and email.lower().encode() in wal[0].read_bytes().lower()
    result = app.test_cli_runner().invoke(args=["gdprchat", "verify-erasure", email])
    assert result.exit_code == 0, result.output
    assert "the chat's tables and the database files" in result.stdout


# -- 4. what the chat changes in a host's SQLite file -------------------------------------


def test_the_hosts_sqlite_file_keeps_its_journal_and_gets_nothing_beside_it(make_host):
    host = make_host("sqlite")
    host.db_file.touch()  # the host's file exists before the chat arrives
    app = host.app(create_tables=True)
    email = unique_email("visitor")
    start_chat(app, email)
    with app.app_context():
        assert host.chat.erase_subject(email) is True
        with host.db.engine.connect() as conn:  # erased values are still overwritten
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        host.db.engine.dispose()
    with sqlite3.connect(host.db_file) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert {"user", "gdprchat_contacts"} <= tables
    assert sorted(p.name for p in host.root.iterdir() if p.name.startswith("app.db")) == ["app.db"]
    assert (host.root / "instance" / "gdprchat-migrate.lock").exists()
