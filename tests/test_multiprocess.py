"""Two server processes sharing chat traffic over a Redis message queue.

Each runs in both ways a site runs the chat: Werkzeug's threads in a process
that is not monkey-patched although gevent is installed (``python app.py``,
``flask run``), and gevent in a process patched first (production).
"""
from __future__ import annotations

import os
import uuid

import pytest

from flask_gdprchat.core.state import session
from flask_gdprchat.team.agents import create_agent
from tests.plugins.chat import agent_cookie, start_chat

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.mark.parametrize("server", ["threading", "gevent"])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_visitor_and_agent_on_different_processes(backend, server, make_app, tmp_path,
                                                  server_process, chat_sockets):
    if server == "gevent":
        pytest.importorskip("gevent")
    if backend == "sqlite":
        app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    else:
        app = make_app("postgres")
    with app.app_context():
        create_agent("agent@example.test", "Alice Agent", "correct horse battery",
                     permissions=["send_messages"])
        session().commit()
        uri = app.extensions["gdprchat"].db.engine.url.render_as_string(hide_password=False)
    env = {
        "GDPRCHAT_TEST_DB_URI": uri,
        "GDPRCHAT_TEST_QUEUE": os.environ["GDPRCHAT_TEST_REDIS_URL"],
        # A channel of its own, so parallel runs never hear each other.
        "GDPRCHAT_TEST_CHANNEL": f"gdprchat-test-{uuid.uuid4().hex}",
        # The app's own instance folder: every process of a site shares its key
        # store and master key, or none finds what another sealed.
        "GDPRCHAT_TEST_INSTANCE": app.instance_path,
        "GDPRCHAT_TEST_SERVER": server,
    }
    visitor_url, _, visitor_mode = server_process(env)
    agent_url, _, agent_mode = server_process(env)
    # Chosen from the process, not from what is installed.
    assert visitor_mode == agent_mode == server

    agent = chat_sockets().connect(agent_url, headers={"Cookie": agent_cookie(agent_url,
                                                                              "agent@example.test")})
    chat = start_chat(visitor_url, name="Queue Visitor")
    cid = chat["conversation_id"]
    visitor = chat_sockets().connect(visitor_url, auth={"visitor_token": chat["visitor_token"]})

    # Announced by the visitor's process, heard by the agent's.
    assert agent.wait_for("conversation_started")["conversation_id"] == cid
    assert visitor.call("send_message", {"conversation_id": cid, "text": "from process A"})["ok"]
    got = agent.wait_for("message", lambda d: d["text"] == "from process A")
    assert (got["author"], got["author_name"]) == ("visitor", "Queue Visitor")

    assert agent.call("join", {"conversation_id": cid})["ok"]
    assert agent.call("send_message", {"conversation_id": cid, "text": "from process B"})["ok"]
    reply = visitor.wait_for("message", lambda d: d["text"] == "from process B")
    assert (reply["author"], reply["author_name"]) == ("agent", "Alice")
    assert agent.call("typing", {"conversation_id": cid})["ok"]
    assert visitor.wait_for("typing")["author"] == "agent"
