"""Shared fixtures: apps on SQLite or PostgreSQL, clients, agents, an SMTP catcher.

Optional suites are switched on by environment variables (``.ci/run`` sets them):
- ``GDPRCHAT_TEST_POSTGRES_URL`` e.g. ``postgresql://postgres@127.0.0.1:5432/test``
- ``GDPRCHAT_TEST_REDIS_URL`` e.g. ``redis://127.0.0.1:6379/0``
- ``GDPRCHAT_TEST_CHROMIUM`` e.g. ``/usr/bin/chromium``
Unset, those tests skip and say why; set, they must run (an unreachable service fails).
Feature-specific fixtures live in ``tests/plugins/``.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.models import Base
from flask_gdprchat.core.state import session

pytest_plugins = [
    "tests.plugins.mail",
    "tests.plugins.signals",
    "tests.plugins.servers",
    "tests.plugins.browser",
    # One plugin per feature, for fixtures that feature's tests share.
    "tests.plugins.chat",
    "tests.plugins.rights",
    "tests.plugins.admin",
    "tests.plugins.retention",
]

POSTGRES_URL = os.environ.get("GDPRCHAT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GDPRCHAT_TEST_REDIS_URL")
CHROMIUM = os.environ.get("GDPRCHAT_TEST_CHROMIUM")

ADMIN_EMAIL = "admin@example.test"
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = {
        "postgres": (POSTGRES_URL, "set GDPRCHAT_TEST_POSTGRES_URL to run the PostgreSQL suite"),
        "redis": (REDIS_URL, "set GDPRCHAT_TEST_REDIS_URL to run the Redis suite"),
        "browser": (CHROMIUM, "set GDPRCHAT_TEST_CHROMIUM to run the browser suite"),
    }
    for item in items:
        for marker, (enabled, reason) in reasons.items():
            if item.get_closest_marker(marker) and not enabled:
                item.add_marker(pytest.mark.skip(reason=reason))


# -- PostgreSQL: one throw-away database per test session ----------------------------


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("set GDPRCHAT_TEST_POSTGRES_URL to run the PostgreSQL suite")
    import sqlalchemy as sa

    name = f"gdprchat_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(_postgres_uri(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.dispose()


def _postgres_uri(url: str) -> str:
    # SQLAlchemy needs the psycopg 3 driver named.
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _empty_tables() -> None:
    db = session()
    if db.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        db.execute(__import__("sqlalchemy").text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(Base.metadata.sorted_tables):
            db.execute(table.delete())
    db.commit()


# -- apps ------------------------------------------------------------------------------

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[AppFactory]:
    """Build an app with the chat on it: ``make_app(backend="sqlite", **config)``.

    The schema is created as the app starts; ``init=False`` starts without it.
    A PostgreSQL database is emptied first.
    """
    made: list[Flask] = []

    def factory(backend: str = "sqlite", *, init: bool = True, **config: Any) -> Flask:
        app = Flask(f"gdprchat_test_{len(made)}", instance_path=str(tmp_path / f"instance{len(made)}"))
        app.config.update(
            TESTING=True,
            SECRET_KEY="test-secret",
            GDPRCHAT_SCHEDULER=False,
            # Hashing a test agent's password strongly costs time and proves nothing.
            GDPRCHAT_PASSWORD_PROFILE="CHEAPEST",
            MAIL_DEFAULT_SENDER="chat@example.test",
        )
        if backend == "postgres":
            url = request.getfixturevalue("postgres_database")
            app.config["SQLALCHEMY_DATABASE_URI"] = _postgres_uri(url)
        elif backend != "sqlite":
            raise ValueError(backend)
        if "smtp_server" in request.fixturenames:
            smtp = request.getfixturevalue("smtp_server")
            app.config.update(MAIL_SERVER=smtp.host, MAIL_PORT=smtp.port)
        app.config.update(config)
        if not init:
            app.config["GDPRCHAT_AUTO_MIGRATE"] = False
        GDPRChat(app)
        if init and backend == "postgres":
            with app.app_context():
                _empty_tables()
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            session().remove()
            app.extensions["gdprchat"].db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """The default test app, on SQLite."""
    return make_app()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


# -- agents ----------------------------------------------------------------------------


@pytest.fixture
def make_agent(app: Flask) -> Callable[..., int]:
    """Create an agent and return its id: ``make_agent(email, permissions=[...], admin=False)``."""

    def factory(
        email: str = "agent@example.test",
        *,
        name: str = "Alice Agent",
        permissions: tuple[str, ...] | list[str] = ("send_messages",),
        admin: bool = False,
        password: str = PASSWORD,
    ) -> int:
        from flask_gdprchat.team.agents import create_agent

        with app.app_context():
            agent = create_agent(email, name, password, permissions=permissions, admin=admin)
            session().commit()
            return agent.id

    return factory


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Sign ``client`` in to the agent console the way a browser does."""
    page = client.get("/gdprchat/agent/login")
    token = _csrf_from(page.get_data(as_text=True))
    return client.post(
        "/gdprchat/agent/login", data={"email": email, "password": password, "csrf_token": token}
    )


def _csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf_token field on the page"
    return match.group(1)


@pytest.fixture
def csrf_from() -> Callable[[str], str]:
    """Read the ``csrf_token`` hidden field from a page."""
    return _csrf_from


@pytest.fixture
def admin_client(app: Flask, make_agent: Callable[..., int]) -> Any:
    """A test client signed in as an admin agent."""
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    client = app.test_client()
    response = login(client, ADMIN_EMAIL)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def login_as() -> Callable[..., Any]:
    """``login_as(client, email)`` signs a client in."""
    return login
