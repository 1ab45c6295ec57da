"""What an attacker and a bad day do, and what the chat does about it.

Each test here failed on the first version and protects one fix.
"""
from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import func, select

from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.mail import UnbuildableMail, deliver, queue_mail
from flask_gdprchat.core.models import Campaign, Contact, Message, OutboundMail
from flask_gdprchat.core.state import session
from flask_gdprchat.sockets.guard import PENDING_PER_ADDRESS

from .conftest import PASSWORD, login
from .plugins.chat import agent_cookie
from .plugins.rights import link_path, request_link

CONSOLE = "/gdprchat/agent/"


# -- 1. signing out ends the session for good ---------------------------------------------


def _cookie_of(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_cookie_opens_nothing_after_sign_out(app, make_agent, csrf_from):
    make_agent("a@example.test")
    browser = app.test_client()
    assert login(browser, "a@example.test").status_code == 302
    stolen = _cookie_of(browser)
    token = csrf_from(browser.get(CONSOLE).get_data(as_text=True))
    assert browser.post("/gdprchat/agent/logout", data={"csrf_token": token}).status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get(CONSOLE)
    assert response.status_code == 302 and "/agent/login" in response.headers["Location"]


def test_a_copied_cookie_opens_no_socket_after_sign_out(chat_server, chat_sockets):
    url = chat_server.url
    cookie = agent_cookie(url, "agent@example.test")
    http = requests.Session()
    http.headers["Cookie"] = cookie
    page = http.get(f"{url}{CONSOLE}", timeout=10)
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert http.post(f"{url}/gdprchat/agent/logout", data={"csrf_token": csrf},
                     allow_redirects=False, timeout=10).status_code == 302
    with pytest.raises(socketio.exceptions.ConnectionError):
        chat_sockets().connect(url, headers={"Cookie": cookie})


def test_sign_out_everywhere_ends_every_device(app, make_agent, csrf_from):
    make_agent("a@example.test")
    phone, laptop = app.test_client(), app.test_client()
    assert login(phone, "a@example.test").status_code == 302
    assert login(laptop, "a@example.test").status_code == 302
    token = csrf_from(phone.get(CONSOLE).get_data(as_text=True))
    response = phone.post("/gdprchat/agent/logout-everywhere", data={"csrf_token": token})
    assert response.status_code == 302
    assert laptop.get(CONSOLE).status_code == 302
    assert phone.get(CONSOLE).status_code == 302
    # And signing in again works at once.
    assert login(laptop, "a@example.test").status_code == 302
    assert laptop.get(CONSOLE).status_code == 200


def test_an_admin_signs_an_agent_out_everywhere(app, make_agent, admin_client, csrf_from):
    agent_id = make_agent("a@example.test")
    agent = app.test_client()
    assert login(agent, "a@example.test").status_code == 302
    page = admin_client.get("/gdprchat/admin/team/").get_data(as_text=True)
    response = admin_client.post("/gdprchat/admin/team/action/", data={
        "action": "sign_out", "rowid": str(agent_id), "csrf_token": csrf_from(page),
    })
    assert response.status_code == 302
    assert agent.get(CONSOLE).status_code == 302


# -- 2. GET and HEAD never change state ------------------------------------------------------


def test_head_on_an_unsubscribe_link_changes_nothing(app, client):
    from flask_gdprchat.chat.campaigns import unsubscribe_token

    with app.app_context():
        contact = Contact(email="o@example.test", marketing_consent=True)
        session().add(contact)
        session().commit()
        contact_id = contact.id
        token = unsubscribe_token(contact_id)
    assert client.head(f"/gdprchat/unsubscribe/{token}").status_code == 200
    assert client.get(f"/gdprchat/unsubscribe/{token}").status_code == 200
    with app.app_context():
        assert session().get(Contact, contact_id).unsubscribed_at is None
    client.post(f"/gdprchat/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    with app.app_context():
        assert session().get(Contact, contact_id).unsubscribed_at is not None


def test_no_route_changes_state_on_head(app):
    """Every view that takes POST is POST-only, or shows a page on GET and HEAD."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/gdprchat") or "POST" not in rule.methods:
            continue
        if "GET" in rule.methods:
            # The known pages that show a form on GET: each checks for POST itself.
            assert rule.endpoint.split(".")[-1] in {
                "login", "confirm", "index", "index_view", "create_view", "edit_view",
                "details_view", "action_view", "delete_view", "ajax_update", "export",
                "ajax_lookup", "retention", "widget", "send", "settings",
            } or rule.endpoint.startswith("gdprchat_admin"), rule.rule


# -- 3. unauthenticated sockets are bounded ----------------------------------------------------


def _raw_engineio_socket(url: str) -> Any:
    """An Engine.IO WebSocket that never connects a namespace (like a scanner)."""
    import websocket

    ws = websocket.create_connection(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=5
    )
    return ws


def test_unauthenticated_connections_are_capped_per_address(chat_server, chat_sockets, caplog):
    opened = []
    try:
        for _ in range(PENDING_PER_ADDRESS):
            ws = _raw_engineio_socket(chat_server.url)
            assert ws.recv().startswith("0")  # the Engine.IO open packet
            opened.append(ws)
        # One more from the same address is refused by the Engine.IO handshake.
        import websocket

        with caplog.at_level(logging.WARNING, logger="flask_gdprchat.security"), \
                pytest.raises(websocket.WebSocketException):
                extra = _raw_engineio_socket(chat_server.url)
                opened.append(extra)
                extra.recv()
        assert "too_many_unauthenticated_connections" in caplog.text
    finally:
        for ws in opened:
            ws.close()


def test_unauthenticated_connections_are_closed_after_a_timeout(app, monkeypatch, live_server):
    from flask_gdprchat.sockets import guard

    monkeypatch.setattr(guard, "PENDING_TIMEOUT", 0.5)
    server = live_server(app)
    ws = _raw_engineio_socket(server.url)
    assert ws.recv().startswith("0")
    ws.settimeout(10)
    import websocket

    # The server closes it: recv ends with the close frame (or an error) well before
    # the client's own timeout; no namespace was ever connected.
    with pytest.raises((websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException, ConnectionError, OSError)):
        while True:
            message = ws.recv()
            if message == "":
                raise websocket.WebSocketConnectionClosedException("closed")
            if message.startswith("1"):  # the Engine.IO close packet
                raise websocket.WebSocketConnectionClosedException("closed by server")
    ws.close()


def test_a_visitor_that_authenticates_is_not_counted_as_pending(chat_server, chat_visitor):
    # Far more authenticated visitors than the pending cap, all from 127.0.0.1.
    clients = [chat_visitor(chat_server.url)[1] for _ in range(PENDING_PER_ADDRESS + 3)]
    assert all(c.sio.connected for c in clients)


# -- 4. one bad mail never jams the outbox ---------------------------------------------------


def test_a_subject_with_a_line_break_is_refused_where_it_is_written(app):
    with app.app_context():
        with pytest.raises(UnbuildableMail):
            queue_mail("a@example.test", "Hello\r\nBcc: everyone@example.test", "body")
        from flask_gdprchat.chat.campaigns import CampaignError, check_campaign

        with pytest.raises(CampaignError, match="one line"):
            check_campaign(Campaign(name="n", subject="Hi\r\nthere", body="b",
                                    channel="email", kind="manual"))
        assert session().scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_a_mail_that_cannot_be_built_is_set_aside_and_the_rest_go(make_app, smtp_server):
    app = make_app()
    with app.app_context():
        # A row written before the check existed: its header cannot be built.
        bad = OutboundMail(to_address="x@example.test", subject="ok", body_text="b",
                           headers={"X-Bad": "a\r\nBcc: y@example.test"})
        session().add(bad)
        good = queue_mail("link@example.test", "Your privacy link", "https://example/x")
        session().commit()
        assert deliver() == 1
        assert [m["To"] for m in smtp_server.wait_for(1)] == ["link@example.test"]
        left = session().scalars(select(OutboundMail)).all()
        assert [m.id for m in left] == [bad.id]
        assert left[0].failed_at is not None
        assert good not in left
        # Given up on: the next run neither tries it nor fails on it.
        assert deliver() == 0


def test_a_refused_mail_is_retried_after_a_back_off(make_app):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=1)  # nothing listens there
    from flask_gdprchat.core.mail import MailError, due_mail

    with app.app_context():
        queue_mail("a@example.test", "s", "b")
        session().commit()
        with pytest.raises(MailError):
            deliver()
        mail = session().scalars(select(OutboundMail)).one()
        assert mail.attempts == 1 and mail.next_attempt_at is not None
        assert mail.failed_at is None
        assert due_mail() == []  # waits for its back-off


# -- 5. an oversized long-polling POST gets a prompt 413 ---------------------------------------


def test_an_oversized_polling_post_is_answered_413_at_once(chat_server):
    host, port = "127.0.0.1", chat_server.port
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(
            b"POST /socket.io/?EIO=4&transport=polling&sid=whatever HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 50000000\r\n\r\n" + b"x" * 65536
        )
        conn.settimeout(5)  # without the fix the server waits for the whole body
        first_line = conn.recv(1024).split(b"\r\n", 1)[0]
    assert b"413" in first_line


# -- 6. floods ---------------------------------------------------------------------------------


def test_typing_floods_reach_the_agent_once(chat_server, chat_visitor, chat_agent):
    agent = chat_agent(chat_server.url)
    chat, visitor = chat_visitor(chat_server.url)
    acks = [visitor.call("typing", {"conversation_id": chat["conversation_id"]})
            for _ in range(20)]
    assert acks[0] == {"ok": True}
    assert sum(1 for a in acks if a.get("ok")) == 1
    assert all(a == {"ok": False, "error": "too many typing events"} for a in acks[1:])
    agent.wait_for("typing")
    assert [n for n, _ in agent.drain(0.5) if n == "typing"] == ["typing"]


def test_a_persistent_flooder_is_disconnected(make_app, live_server, chat_visitor):
    app = make_app(GDPRCHAT_MESSAGES_PER_10S=2)
    server = live_server(app)
    chat, visitor = chat_visitor(server.url)
    cid = chat["conversation_id"]
    for _ in range(60):
        if not visitor.sio.connected:
            break
        try:
            visitor.call("send_message", {"conversation_id": cid, "text": "spam"}, timeout=2)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError):
            break
    deadline = time.monotonic() + 10
    while visitor.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not visitor.sio.connected
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Message)) == 2


# -- 7. no secret left behind ---------------------------------------------------------------


def test_a_delivered_privacy_link_leaves_no_token_or_address_in_the_files(make_app, smtp_server):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        session().add(Contact(email="wal.canary@example.test", name="Wal"))
        session().commit()
    def raw_bytes() -> bytes:
        with app.app_context():
            session().execute(__import__("sqlalchemy").text("PRAGMA wal_checkpoint(PASSIVE)"))
            db_file = Path(session().get_bind().url.database)
        return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))

    # The contact row and its e-mail index hold the address (twice each while
    # the WAL still has the page): the baseline.
    before = raw_bytes().count(b"wal.canary@example.test")
    request_link(client, "wal.canary@example.test")
    message = smtp_server.wait_for(1)[0]
    token = link_path(message).rsplit("/", 1)[1]
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(OutboundMail)) == 0
    # The mail's copies of the address and the token are gone from the file and the WAL.
    raw = raw_bytes()
    assert token.encode() not in raw
    assert raw.count(b"wal.canary@example.test") <= min(before, 2)  # the row and its index


def test_link_tokens_are_redacted_in_the_access_log(app, caplog):
    token = "eyJhbGciOiJI.secret-token-value"
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('%s - - [x] "%s" %s %s', "127.0.0.1",
                    f"GET /gdprchat/privacy/{token} HTTP/1.1", "200", "-")
        logger.info('%s - - [x] "%s" %s %s', "127.0.0.1",
                    f"GET /gdprchat/unsubscribe/{token}/ HTTP/1.1", "200", "-")
        logger.info('%s - - [x] "%s" %s %s', "127.0.0.1",
                    "POST /gdprchat/privacy/request HTTP/1.1", "200", "-")
    assert token not in caplog.text
    assert "/gdprchat/privacy/[token]" in caplog.text
    assert "/gdprchat/privacy/request" in caplog.text


# -- 8. only JSON true is consent ---------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 1.0, "true", "yes", [True], {"v": True}])
def test_only_json_true_counts_as_consent(client, app, value):
    response = client.post("/gdprchat/api/conversations",
                           json={"consent": value, "policy_version": "1"})
    assert response.status_code in (400, 422)
    assert "consent" in response.get_json()["error"].lower() or "consent" in str(response.get_json())
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Contact)) == 0


# -- 9. retries do not duplicate messages --------------------------------------------------------


def test_a_retry_with_the_same_client_msg_id_stores_nothing_new(chat_server, chat_visitor):
    chat, visitor = chat_visitor(chat_server.url)
    body = {"conversation_id": chat["conversation_id"], "text": "hello", "client_msg_id": "m-1"}
    first = visitor.call("send_message", body)
    again = visitor.call("send_message", body)
    assert first["ok"] and again["ok"]
    assert again["message"]["id"] == first["message"]["id"]
    assert again["message"]["text"] == "hello"
    other = visitor.call("send_message", {**body, "client_msg_id": "m-2"})
    assert other["message"]["id"] != first["message"]["id"]
    with chat_server.app.app_context():
        assert session().scalar(select(func.count()).select_from(Message)) == 2


@pytest.mark.parametrize("bad", [5, "x" * 65, "", ["m"]])
def test_a_bad_client_msg_id_is_refused(chat_server, chat_visitor, bad):
    chat, visitor = chat_visitor(chat_server.url)
    ack = visitor.call("send_message", {"conversation_id": chat["conversation_id"],
                                        "text": "hi", "client_msg_id": bad})
    assert ack["ok"] is False and "client_msg_id" in ack["error"]


# -- 10. CORS "*" is refused ------------------------------------------------------------------


@pytest.mark.parametrize("origins", ["*", ["https://shop.example", "*"], "shop.example"])
def test_a_wildcard_or_malformed_origin_is_refused_at_start_up(make_app, origins):
    with pytest.raises(ConfigError, match="GDPRCHAT_CORS_ALLOWED_ORIGINS"):
        make_app(GDPRCHAT_CORS_ALLOWED_ORIGINS=origins)


def test_listed_origins_are_accepted(make_app):
    app = make_app(GDPRCHAT_CORS_ALLOWED_ORIGINS=["https://shop.example", "http://localhost:5000"])
    assert app.extensions["socketio"].server.eio.cors_allowed_origins == [
        "https://shop.example", "http://localhost:5000"]


# -- 11. chat starts and sign-ins are throttled sensibly --------------------------------------


def test_chat_starts_are_throttled_per_address(make_app, live_server):
    from concurrent.futures import ThreadPoolExecutor

    app = make_app(GDPRCHAT_CONVERSATION_STARTS_PER_HOUR=5)
    server = live_server(app)

    def start(_: int) -> int:
        return requests.post(f"{server.url}/gdprchat/api/conversations",
                             json={"consent": True, "policy_version": "1"}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(start, range(20)))
    assert codes.count(201) == 5
    assert codes.count(429) == 15
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Contact)) == 5


def _sign_in(client: Any, email: str, password: str, address: str) -> int:
    page = client.get("/gdprchat/agent/login", environ_base={"REMOTE_ADDR": address})
    import re

    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/gdprchat/agent/login",
                       data={"email": email, "password": password, "csrf_token": csrf},
                       environ_base={"REMOTE_ADDR": address}).status_code


def test_a_stranger_cannot_lock_an_agent_out(app, make_agent):
    make_agent("a@example.test")
    stranger, agent = app.test_client(), app.test_client()
    codes = [_sign_in(stranger, "a@example.test", "guess", "203.0.113.9") for _ in range(8)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # The real agent, from its own address, with the right password.
    assert _sign_in(agent, "a@example.test", PASSWORD, "198.51.100.1") == 302


def test_successful_sign_ins_are_never_throttled(app, make_agent):
    make_agent("a@example.test")
    assert [_sign_in(app.test_client(), "a@example.test", PASSWORD, "198.51.100.1")
            for _ in range(12)] == [302] * 12


def test_a_spread_attack_leaves_the_agents_usual_address_open(app, make_agent, monkeypatch):
    from flask_gdprchat.core import sign_in_limits

    monkeypatch.setattr(sign_in_limits, "FAILURES_PER_ACCOUNT", 6)
    make_agent("a@example.test")
    assert _sign_in(app.test_client(), "a@example.test", PASSWORD, "198.51.100.1") == 302
    for n in range(6):
        assert _sign_in(app.test_client(), "a@example.test", "x", f"203.0.113.{n}") == 401
    assert _sign_in(app.test_client(), "a@example.test", PASSWORD, "203.0.113.99") == 429
    assert _sign_in(app.test_client(), "a@example.test", PASSWORD, "198.51.100.1") == 302


# -- 12. refusals leave a trace ------------------------------------------------------------


def test_a_token_tried_on_another_conversation_is_logged_without_personal_data(app, client, caplog):
    mine = client.post("/gdprchat/api/conversations",
                       json={"consent": True, "policy_version": "1", "email": "me@example.test"}).get_json()
    other = client.post("/gdprchat/api/conversations",
                        json={"consent": True, "policy_version": "1"}).get_json()
    with caplog.at_level(logging.WARNING, logger="flask_gdprchat.security"):
        response = client.get(f"/gdprchat/api/conversations/{other['conversation_id']}/messages",
                              headers={"Authorization": f"Bearer {mine['visitor_token']}"})
    assert response.status_code in (403, 404)
    records = [r for r in caplog.records if r.name == "flask_gdprchat.security"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    line = records[0].getMessage()
    assert "token_does_not_open_conversation" in line and str(other["conversation_id"]) in line
    assert mine["visitor_token"] not in line and "me@example.test" not in line


def test_an_agent_refused_a_permission_is_logged(agent_client, caplog, app):
    client = agent_client("send_messages")
    with caplog.at_level(logging.WARNING, logger="flask_gdprchat.security"):
        assert client.get("/gdprchat/agent/conversations/1/export.csv").status_code == 403
    assert "missing_permission" in caplog.text and "user_data" in caplog.text
    assert client.agent_email not in caplog.text


# -- 13. headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CONSOLE, "/gdprchat/admin/", "/gdprchat/privacy",
                                  "/gdprchat/agent/login"])
def test_pages_cannot_be_framed_and_run_only_their_own_scripts(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy.split(
        "style-src")[0]


def test_dashboard_scripts_carry_the_page_nonce(admin_client):
    import re

    response = admin_client.get("/gdprchat/admin/team/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    html = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert all(f'nonce="{nonce}"' in attrs or "application/json" in attrs for attrs in inline)


def test_the_session_cookie_is_same_site_lax(app, make_agent):
    make_agent("a@example.test")
    client = app.test_client()
    response = login(client, "a@example.test")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_a_hosts_own_same_site_choice_is_kept(make_app):
    app = make_app(SESSION_COOKIE_SAMESITE="Strict")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


# -- 14. DEBUG logging keeps payloads out ------------------------------------------------------


def test_debug_logging_writes_no_message_text_or_token(chat_server, chat_visitor, caplog):
    with caplog.at_level(logging.DEBUG):
        chat, visitor = chat_visitor(chat_server.url)
        visitor.call("send_message", {"conversation_id": chat["conversation_id"],
                                      "text": "payload-canary-4711"})
    assert "payload-canary-4711" not in caplog.text
    assert chat["visitor_token"] not in caplog.text
