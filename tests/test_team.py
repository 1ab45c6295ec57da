"""Team members: the employee's right to be forgotten, disabling, the last admin."""
from __future__ import annotations

import threading

import pytest
import socketio
from sqlalchemy import select

from flask_gdprchat.core import signals
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.models import Agent, Message
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from flask_gdprchat.team.agents import PURGED_NAME, TeamError, delete_agent, update_agent
from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.plugins.admin import ADMIN_URL
from tests.plugins.chat import NAMESPACE, agent_cookie

EMAIL = "quentin.leaving@example.test"
FULL_NAME = "Quentin Zzyzxleaving"


@pytest.fixture
def leaver(app, make_agent, make_contact):
    """An agent who answered one chat, and an admin who stays."""
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    agent_id = make_agent(EMAIL, name=FULL_NAME, permissions=["send_messages"])
    contact_id = make_contact("visitor@example.test")
    with app.app_context():
        from flask_gdprchat.core.models import Conversation

        db = session()
        conversation = db.scalars(select(Conversation).where(Conversation.contact_id == contact_id)).one()
        db.add(Message(conversation_id=conversation.id, author="agent", agent_id=agent_id,
                       text="Happy to help"))
        agent = db.get(Agent, agent_id)
        agent.photo = b"PHOTO-BYTES-OF-QUENTIN"
        db.commit()
    return agent_id


def _file_bytes(app) -> bytes:
    with app.app_context():
        return b"".join(path.read_bytes() for path in database_files())


def _message_author_name(app) -> str:
    with app.app_context():
        message = session().scalars(select(Message).where(Message.author == "agent")).one()
        return message.agent.first_name


def test_deleting_an_agent_erases_its_details_even_from_the_database_file(app, leaver, listen_to):
    from flask_gdprchat.core.keystore import keystore

    # The values live sealed under the agent's own key, never plain in the file.
    before = _file_bytes(app)
    with app.app_context():
        sealed = session().execute(select(Agent.__table__.c.full_name_sealed,
                                          Agent.__table__.c.photo_sealed)
                                   .where(Agent.__table__.c.id == leaver)).one()
        assert all(blob is not None and blob in before for blob in sealed)
        assert keystore().existing_key("agent", leaver) is not None
    for value in (EMAIL, FULL_NAME.split()[1], "PHOTO-BYTES-OF-QUENTIN"):
        assert value.encode() not in before, f"{value} is plain in the database file"
    with listen_to(signals.agent_erased) as sent, app.app_context():
        delete_agent(leaver, purge=False, actor="test")
    raw = _file_bytes(app)
    assert raw, "no SQLite file found"
    for value in (EMAIL.encode(), FULL_NAME.split()[1].encode(), b"PHOTO-BYTES-OF-QUENTIN",
                  *sealed):
        assert value not in raw, f"{value!r} is still in the database file"
    assert _message_author_name(app) == "Quentin"
    with app.app_context():
        agent = session().get(Agent, leaver)
        assert (agent.email, agent.full_name, agent.photo, agent.password_hash) == (None,) * 4
        assert (agent.email_sealed, agent.full_name_sealed, agent.email_index) == (None,) * 3
        assert not agent.is_active and agent.deleted_at is not None
        # The key went too: a backup taken before holds nothing it can open.
        assert keystore().existing_key("agent", leaver) is None
        assert keystore().is_destroyed("agent", leaver)
    assert sent == [{"sender": app, "agent_id": leaver, "purged": False}]


def test_purging_replaces_the_first_name_too(app, leaver):
    with app.app_context():
        delete_agent(leaver, purge=True, actor="test")
    assert _message_author_name(app) == PURGED_NAME
    assert b"Quentin" not in _file_bytes(app)


def test_the_audit_log_records_the_erasure_without_personal_data(app, leaver):
    from flask_gdprchat.core.models import AuditEvent

    with app.app_context():
        delete_agent(leaver, purge=False, actor="agent:1")
        event = session().scalars(select(AuditEvent).where(AuditEvent.event == "agent_erased")).one()
        assert event.details == {"agent_id": leaver, "purged": False}
        assert EMAIL not in str(event.details) and "Quentin" not in str(event.details)


def test_a_deleted_agent_cannot_sign_in_and_loses_its_session(app, leaver, login_as):
    browser = app.test_client()
    assert login_as(browser, EMAIL).status_code == 302
    assert browser.get("/gdprchat/agent/").status_code == 200
    with app.app_context():
        delete_agent(leaver, purge=False, actor="test")
    assert browser.get("/gdprchat/agent/").status_code == 302
    assert login_as(app.test_client(), EMAIL).status_code == 401


def _open_agent_socket(url: str) -> tuple[socketio.Client, threading.Event]:
    """A signed-in agent's socket, and an event set when the server closes it."""
    closed = threading.Event()
    client = socketio.Client(reconnection=False)
    client.on("disconnect", lambda *args: closed.set(), namespace=NAMESPACE)
    client.connect(url, namespaces=[NAMESPACE], transports=["websocket"],
                   headers={"Cookie": agent_cookie(url, EMAIL)}, wait_timeout=10)
    return client, closed


def test_a_deleted_agents_open_socket_is_closed_at_once(app, leaver, live_server):
    client, closed = _open_agent_socket(live_server(app).url)
    try:
        assert client.connected
        with app.app_context():
            delete_agent(leaver, purge=False, actor="test")
        assert closed.wait(timeout=10), "the socket of the deleted agent stayed open"
    finally:
        client.disconnect()


def test_a_downgraded_agents_open_socket_is_closed_too(app, leaver, live_server):
    client, closed = _open_agent_socket(live_server(app).url)
    try:
        with app.app_context():
            update_agent(leaver, permissions=[], actor="test")
        assert closed.wait(timeout=10)
    finally:
        client.disconnect()


def test_the_last_active_admin_cannot_be_deleted_or_disabled(app, make_agent):
    admin_id = make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    with app.app_context():
        with pytest.raises(TeamError, match="last active admin"):
            delete_agent(admin_id, purge=False, actor="test")
        with pytest.raises(TeamError, match="last active admin"):
            update_agent(admin_id, active=False)
        with pytest.raises(TeamError, match="last active admin"):
            update_agent(admin_id, admin=False)
        assert session().get(Agent, admin_id).email == ADMIN_EMAIL


def test_the_dashboard_refuses_deleting_yourself_as_the_last_admin(app, admin_client, csrf_from):
    with app.app_context():
        me = session().scalar(select(Agent.id).where(agent_email_is(ADMIN_EMAIL)))
    token = csrf_from(admin_client.get(f"{ADMIN_URL}/team/").get_data(as_text=True))
    admin_client.post(f"{ADMIN_URL}/team/delete/", data={"id": me, "csrf_token": token})
    page = admin_client.get(f"{ADMIN_URL}/team/").get_data(as_text=True)
    assert "last active admin" in page
    with app.app_context():
        assert session().get(Agent, me).deleted_at is None


def test_the_dashboard_purge_action_erases_completely(app, leaver, login_as, csrf_from):
    client = app.test_client()
    login_as(client, ADMIN_EMAIL)
    token = csrf_from(client.get(f"{ADMIN_URL}/team/").get_data(as_text=True))
    client.post(f"{ADMIN_URL}/team/action/",
                data={"action": "purge", "rowid": str(leaver), "csrf_token": token})
    assert _message_author_name(app) == PURGED_NAME


def test_a_team_member_without_admin_cannot_make_an_admin(app, agent_client, csrf_from):
    lead = agent_client("team")
    token = csrf_from(lead.get(f"{ADMIN_URL}/team/new/").get_data(as_text=True))
    lead.post(f"{ADMIN_URL}/team/new/", data={
        "email": "boss@example.test", "full_name": "Boss", "password": PASSWORD,
        "is_admin": "y", "csrf_token": token})
    with app.app_context():
        assert session().scalar(select(Agent).where(agent_email_is("boss@example.test"))) is None


def test_editing_permissions_in_the_dashboard(app, leaver, login_as, csrf_from):
    client = app.test_client()
    login_as(client, ADMIN_EMAIL)
    page = client.get(f"{ADMIN_URL}/team/edit/?id={leaver}").get_data(as_text=True)
    assert 'checked id="permissions-3" name="permissions" type="checkbox" value="send_messages"' in page
    client.post(f"{ADMIN_URL}/team/edit/?id={leaver}", data={
        "permissions": ["send_messages", "user_data"], "is_active": "y",
        "csrf_token": csrf_from(page)})
    with app.app_context():
        assert session().get(Agent, leaver).permission_set == {"send_messages", "user_data"}


# -- the command line -------------------------------------------------------------------


def test_delete_agent_asks_for_confirmation(app, leaver):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gdprchat", "delete-agent", EMAIL], input="n\n")
    assert result.exit_code == 1
    with app.app_context():
        assert session().get(Agent, leaver).email == EMAIL
    result = runner.invoke(args=["gdprchat", "delete-agent", EMAIL], input="y\n")
    assert result.exit_code == 0, result.output
    assert _message_author_name(app) == "Quentin"


def test_delete_agent_with_yes_and_purge(app, leaver):
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "delete-agent", EMAIL.upper(), "--purge", "--yes"])
    assert result.exit_code == 0, result.output
    assert _message_author_name(app) == PURGED_NAME


def test_delete_agent_for_an_unknown_email_is_one_line_and_exit_1(app):
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "delete-agent", "nobody@example.test", "--yes"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "nobody@example.test" in result.stderr
    assert "Traceback" not in result.output

