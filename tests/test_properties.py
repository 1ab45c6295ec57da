"""Property tests: whatever a client sends, the answer is a clean refusal or a
stored, exportable result, never a server error.

The Socket.IO handlers run in process (Flask-SocketIO's test client) so that
hundreds of generated payloads cost no network round trips.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import login

START = "/gdprchat/api/conversations"
NAMESPACE = "/gdprchat"
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None,
    # One app for all examples: building one per example would cost seconds each.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=80),
    st.sampled_from(["\x00", "\ud800", "=cmd|' /C calc'!A0", "<script>x</script>", "1" * 6000]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=8,
)
field_names = st.sampled_from(["name", "email", "company", "phone", "consent",
                               "marketing_consent", "policy_version", "locale", "extra"])
bodies = st.one_of(
    json_values,
    st.dictionaries(field_names, json_values, max_size=8),
    st.fixed_dictionaries(
        {"consent": st.just(True), "policy_version": st.just("1")},
        optional={"name": json_values, "email": json_values, "phone": json_values,
                  "company": json_values, "marketing_consent": json_values},
    ),
)


@pytest.fixture
def open_app(app: Any) -> Any:
    # Many starts from one test address: the per-address limit is not under test here.
    app.config["GDPRCHAT_CONVERSATION_STARTS_PER_HOUR"] = 100_000
    return app


@PROPERTY_SETTINGS
@given(body=bodies)
def test_any_chat_start_body_gets_a_clean_answer(open_app, body):
    client = open_app.test_client()
    response = client.post(START, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (201, 400, 409, 422), response.get_data(as_text=True)
    payload = response.get_json()
    if response.status_code == 201:
        assert body.get("consent") is True
        assert {"conversation_id", "visitor_token"} <= set(payload)
    else:
        assert isinstance(payload["error"], str) and payload["error"]


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_raw_body_gets_a_clean_answer(open_app, raw):
    response = open_app.test_client().post(START, data=raw, content_type="application/json")
    assert response.status_code in (400, 415, 422)
    assert "error" in response.get_json()


@pytest.fixture
def visitor_socket(open_app: Any) -> Any:
    client = open_app.test_client()
    chat = client.post(START, json={"consent": True, "policy_version": "1"}).get_json()
    socketio = open_app.extensions["gdprchat"].socketio
    sio = socketio.test_client(open_app, namespace=NAMESPACE,
                               auth={"visitor_token": chat["visitor_token"]})
    assert sio.is_connected(NAMESPACE)
    yield sio, chat
    sio.disconnect(namespace=NAMESPACE)


events = st.sampled_from(["send_message", "typing", "join", "edit_message", "read",
                          "resolve", "assign", "set_status"])


@PROPERTY_SETTINGS
@given(event=events, payload=st.one_of(json_values, st.dictionaries(
    st.sampled_from(["conversation_id", "text", "message_id", "client_msg_id", "agent_id",
                     "status"]), json_values, max_size=5)))
def test_any_socket_payload_gets_an_ok_or_a_clean_refusal(visitor_socket, open_app, event,
                                                          payload):
    sio, chat = visitor_socket
    ack = sio.emit(event, payload, namespace=NAMESPACE, callback=True)
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if not ack["ok"]:
        assert isinstance(ack["error"], str) and ack["error"]
    elif event == "send_message":
        # Accepted means stored: it is in the visitor's own history and export.
        history = open_app.test_client().get(
            f"{START}/{chat['conversation_id']}/messages",
            headers={"Authorization": f"Bearer {chat['visitor_token']}"}).get_json()
        assert ack["message"]["id"] in [m["id"] for m in history["messages"]]


@PROPERTY_SETTINGS
@given(text=st.text(min_size=1, max_size=300))
def test_any_text_a_visitor_may_send_is_stored_and_exported(visitor_socket, open_app, text):
    sio, chat = visitor_socket
    ack = sio.emit("send_message", {"conversation_id": chat["conversation_id"], "text": text},
                   namespace=NAMESPACE, callback=True)
    if not ack["ok"]:
        assert ack["error"]
        return
    stored = ack["message"]["text"]
    history = open_app.test_client().get(
        f"{START}/{chat['conversation_id']}/messages",
        headers={"Authorization": f"Bearer {chat['visitor_token']}"}).get_json()
    assert stored in [m["text"] for m in history["messages"]]


@pytest.fixture
def agent_socket(open_app: Any, make_agent: Any) -> Any:
    make_agent("p@example.test", permissions=["send_messages", "edit_messages", "user_data"])
    client = open_app.test_client()
    assert login(client, "p@example.test").status_code == 302
    socketio = open_app.extensions["gdprchat"].socketio
    sio = socketio.test_client(open_app, namespace=NAMESPACE, flask_test_client=client)
    assert sio.is_connected(NAMESPACE)
    yield sio
    sio.disconnect(namespace=NAMESPACE)


@PROPERTY_SETTINGS
@given(event=events, payload=st.one_of(json_values, st.dictionaries(
    st.sampled_from(["conversation_id", "text", "message_id", "client_msg_id", "agent_id",
                     "status"]), json_values, max_size=5)))
def test_any_agent_payload_gets_an_ok_or_a_clean_refusal(agent_socket, event, payload):
    ack = agent_socket.emit(event, payload, namespace=NAMESPACE, callback=True)
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if not ack["ok"]:
        assert isinstance(ack["error"], str) and ack["error"]


def _csrf(client: Any, path: str) -> str:
    import re

    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


@PROPERTY_SETTINGS
@given(email=st.text(max_size=400))
def test_any_privacy_link_request_gets_a_page(open_app, email):
    client = open_app.test_client()
    token = _csrf(client, "/gdprchat/privacy")
    response = client.post("/gdprchat/privacy/request", data={"email": email, "csrf_token": token})
    assert response.status_code in (200, 400, 429)
    assert "<html" in response.get_data(as_text=True)


@PROPERTY_SETTINGS
@given(fields=st.dictionaries(st.sampled_from(["name", "email", "company", "phone", "other"]),
                              st.text(max_size=400), max_size=5))
def test_any_rectification_form_gets_a_page_and_keeps_the_data_whole(open_app, client_for_link,
                                                                     fields):
    from flask_gdprchat.core.models import Contact
    from flask_gdprchat.core.state import session

    with open_app.app_context():
        if session().query(Contact).filter_by(email="r@example.test").first() is None:
            session().add(Contact(email="r@example.test", name="Rita"))
            session().commit()
    client, path = client_for_link(open_app, "r@example.test")
    token = _csrf(client, path)
    response = client.post(f"{path}/rectify", data={**fields, "csrf_token": token})
    assert response.status_code in (200, 302, 303, 400, 409, 410, 422)
    with open_app.app_context():
        contacts = session().query(Contact).all()
        # Never half-written: every contact still has an e-mail address (the one
        # thing rectification may not empty) and text within its column's length.
        assert all(c.email and len(c.email) <= 320 for c in contacts)
        assert all(c.name is None or len(c.name) <= 255 for c in contacts)
