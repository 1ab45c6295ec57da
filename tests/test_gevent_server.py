"""The chat served under gevent, monkey-patched, as in production.

One server process (``tests/serve.py`` with ``GDPRCHAT_TEST_SERVER=gevent``) runs
everything a production process runs: sockets on the Redis queue, the database
driver, the background scheduler's job thread, leases and SMTP to a real server.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import requests
from sqlalchemy import func, select

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.mail import queue_mail
from flask_gdprchat.core.models import Conversation, JobLease
from flask_gdprchat.core.state import session
from flask_gdprchat.jobs.scheduler import JOBS
from flask_gdprchat.team.agents import create_agent
from tests.plugins.chat import agent_cookie, start_chat
from tests.plugins.retention import Seeder

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_chat_purge_and_mail_under_gevent(backend, make_app, tmp_path, server_process,
                                          chat_sockets, smtp_server):
    pytest.importorskip("gevent")
    if backend == "sqlite":
        app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    else:
        app = make_app("postgres")
    with app.app_context():
        create_agent("agent@example.test", "Alice Agent", "correct horse battery",
                     permissions=["send_messages"])
        seed = Seeder(now=utcnow())
        expired = seed.conversation(seed.contact(age=dt.timedelta(days=400)),
                                    age=dt.timedelta(days=400))
        # Waiting in the outbox, for the scheduler's outbox job to deliver.
        queue_mail("someone@example.test", "Queued before the server started", "Hello.")
        session().commit()
        uri = app.extensions["gdprchat"].db.engine.url.render_as_string(hide_password=False)

    url, _, mode = server_process({
        "GDPRCHAT_TEST_SERVER": "gevent",
        "GDPRCHAT_TEST_JOBS": "1",
        "GDPRCHAT_TEST_DB_URI": uri,
        "GDPRCHAT_TEST_QUEUE": os.environ["GDPRCHAT_TEST_REDIS_URL"],
        "GDPRCHAT_TEST_CHANNEL": f"gdprchat-test-{uuid.uuid4().hex}",
        # The app's own instance folder: every process of a site shares its key
        # store and master key, or none finds what another sealed.
        "GDPRCHAT_TEST_INSTANCE": app.instance_path,
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
    })
    assert mode == "gevent"

    # A chat: the agent's socket on the queue hears the visitor, and the reverse.
    agent = chat_sockets().connect(url, headers={"Cookie": agent_cookie(url, "agent@example.test")})
    chat = start_chat(url, name="Green Visitor")
    cid = chat["conversation_id"]
    visitor = chat_sockets().connect(url, auth={"visitor_token": chat["visitor_token"]})
    assert agent.wait_for("conversation_started")["conversation_id"] == cid
    assert visitor.call("send_message", {"conversation_id": cid, "text": "hello"})["ok"]
    assert agent.wait_for("message", lambda d: d["text"] == "hello")["author"] == "visitor"
    assert agent.call("join", {"conversation_id": cid})["ok"]
    assert agent.call("send_message", {"conversation_id": cid, "text": "hi there"})["ok"]
    assert visitor.wait_for("message", lambda d: d["text"] == "hi there")["author"] == "agent"

    # Every job, run now by the scheduler's own job thread, each under its lease.
    results = requests.post(f"{url}/_test/run-jobs", timeout=90).json()
    assert set(results) == {spec.id for spec in JOBS}
    purged = results["gdprchat-purge"]
    assert isinstance(purged, dict) and purged.get("conversations") == 1, results
    assert results["gdprchat-outbox"] == 1, results

    delivered = smtp_server.wait_for(1)
    assert delivered[0]["Subject"] == "Queued before the server started"
    with app.app_context():
        db = session()
        assert db.get(Conversation, expired) is None
        assert db.get(Conversation, cid) is not None  # the live chat is kept
        leases = db.scalars(select(JobLease).where(JobLease.name.in_([s.id for s in JOBS]))).all()
        assert {lease.name for lease in leases} == {spec.id for spec in JOBS}
        assert all(lease.holder is None for lease in leases)  # each released after its run
        assert db.scalar(select(func.count()).select_from(Conversation)) == 1
