"""Failures answer with a clear error and store nothing half-way.

The database failure is real: a second connection holds SQLite's write lock, so
the app's writes fail with "database is locked" once their busy timeout (made
short here) runs out.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import socketio
from sqlalchemy import event, func, select

from flask_gdprchat.core.models import ConsentRecord, Contact, Conversation, Message
from flask_gdprchat.core.push import NAMESPACE
from flask_gdprchat.core.state import session, state


@contextmanager
def database_locked(app: Any) -> Iterator[None]:
    """While inside, another connection holds the write lock; the app waits 50 ms at most."""
    with app.app_context():
        engine = state.db.engine

    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    event.listen(engine, "connect", short_wait)
    engine.dispose()
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        event.remove(engine, "connect", short_wait)
        engine.dispose()


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return session().scalar(select(func.count()).select_from(model))


PRECHAT = {"name": "Lou", "email": "lou@example.test", "consent": True, "policy_version": "1"}


def test_a_failed_start_answers_json_503_and_stores_nothing(app, client):
    with database_locked(app):
        response = client.post("/gdprchat/api/conversations", json=PRECHAT)
    assert response.status_code == 503
    assert "nothing was stored" in response.get_json()["error"]
    for model in (Contact, ConsentRecord, Conversation):
        assert _count(app, model) == 0
    # Once the lock is gone the same request succeeds.
    assert client.post("/gdprchat/api/conversations", json=PRECHAT).status_code == 201


def test_a_failed_page_write_shows_a_page_not_a_traceback(app, client, make_agent, csrf_from):
    make_agent("a@example.test")
    token = csrf_from(client.get("/gdprchat/agent/login").get_data(as_text=True))
    with database_locked(app):
        response = client.post(
            "/gdprchat/agent/login",
            data={"email": "a@example.test", "password": "wrong password!", "csrf_token": token},
        )
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "nothing was stored" in page
    assert "Traceback" not in page


def test_a_failed_message_write_acks_an_error_and_the_socket_lives_on(app, client, live_server):
    started = client.post("/gdprchat/api/conversations", json=PRECHAT).get_json()
    server = live_server(app)
    sio = socketio.SimpleClient()
    sio.connect(server.url, namespace=NAMESPACE, transports=["websocket"],
                auth={"visitor_token": started["visitor_token"]})
    payload = {"conversation_id": started["conversation_id"], "text": "lost?"}
    try:
        with database_locked(app):
            ack = sio.call("send_message", payload, timeout=15)
        assert ack["ok"] is False
        assert "nothing was stored" in ack["error"]
        assert _count(app, Message) == 0

        ack = sio.call("send_message", {**payload, "text": "second try"},
                       timeout=15)
        assert ack["ok"] is True
        assert _count(app, Message) == 1
    finally:
        sio.disconnect()


def test_api_errors_are_json_and_pages_are_pages(app, client):
    missing = client.get("/gdprchat/api/conversations/999/messages",
                         headers={"Authorization": "Bearer nope"})
    assert missing.status_code in (403, 404)
    assert "error" in missing.get_json()
    no_csrf = client.post("/gdprchat/agent/login", data={"email": "x", "password": "y"})
    assert no_csrf.status_code == 400
    assert no_csrf.mimetype == "text/html"
    assert "security token" in no_csrf.get_data(as_text=True)
