"""What a careful reviewer tries against the HTTP and Socket.IO surfaces."""
from __future__ import annotations

from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from flask_gdprchat.core.models import Contact, Message
from flask_gdprchat.core.state import session

START = "/gdprchat/api/conversations"


def form(**extra: Any) -> dict[str, Any]:
    return {"consent": True, "policy_version": "1", **extra}


def contacts(app: Any) -> list[tuple[Any, ...]]:
    with app.app_context():
        return [(c.external_id, c.name, c.email, c.company, c.phone)
                for c in session().scalars(select(Contact).order_by(Contact.id))]


# -- the host's identify_visitor ---------------------------------------------------------


def _raises() -> Any:
    raise RuntimeError("the host's user table is down")


@pytest.mark.parametrize("identify", [
    lambda: "alice", lambda: ["u-1"], lambda: 42, _raises,
    lambda: {"name": "No Id"}, lambda: {"external_id": {"a": 1}}, lambda: {"external_id": True},
    lambda: {"external_id": "x" * 300}, lambda: {"external_id": "u\x00"},
    lambda: {"external_id": "  "},
], ids=["str", "list", "int", "raises", "no-id", "dict-id", "bool-id", "long-id", "nul-id",
        "blank-id"])
def test_an_unusable_identity_leaves_the_visitor_unidentified(make_app, identify, caplog):
    app = make_app()
    app.extensions["gdprchat"].chat.identify_visitor(identify)
    with app.test_request_context("/"):
        assert render_template_string("{{ gdprchat_widget() }}") == (
            '<script src="/gdprchat/widget.js" defer></script>')
    response = app.test_client().post(START, json=form(name="Typed Name"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert contacts(app) == [(None, "Typed Name", None, None, None)]
    assert all("alice" not in r.getMessage() and "down" not in r.getMessage()
               for r in caplog.records)


def test_bad_identity_details_are_left_out_not_stored(make_app):
    app = make_app()
    app.extensions["gdprchat"].chat.identify_visitor(lambda: {
        "external_id": 7, "name": {"first": "A"}, "email": "not-an-address",
        "company": "Shop\x00Ltd", "phone": "call me", "avatar": object(),
    })
    assert app.test_client().post(START, json=form()).status_code == 201
    assert contacts(app) == [("7", None, None, None, None)]

    app = make_app()
    app.extensions["gdprchat"].chat.identify_visitor(lambda: {
        "external_id": " u-9 ", "name": " Host User ", "email": ["h@shop.test"],
        "company": "Shop", "phone": "+44 20 1234 5678"})
    assert app.test_client().post(START, json=form()).status_code == 201
    assert contacts(app) == [("u-9", "Host User", None, "Shop", "+44 20 1234 5678")]


# -- text no database stores as given ------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("name", "Ann\ud800"), ("company", "\udfff"), ("name", "Ann\x00"), ("company", "A\x07B"),
    ("policy_version", "1\x00"),
])
def test_prechat_text_with_invalid_characters_is_refused_clearly(app, client, field, value):
    raw = ('{{"consent": true, "policy_version": "1", "{}": "{}"}}'.format(field, value.encode("unicode_escape").decode().replace("\\x", "\\u00")))
    response = client.post(START, data=raw, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == field
    assert contacts(app) == []


def test_messages_with_nul_or_lone_surrogates_are_refused_by_ack(app, chat_server, chat_visitor,
                                                                 chat_agent):
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    agent = chat_agent(chat_server.url)
    for who in (visitor, agent):
        for text in ("a\x00b", "a\ud800b"):
            ack = who.call("send_message", {"conversation_id": cid, "text": text})
            assert ack["ok"] is False and "invalid characters" in ack["error"], ack
    ack = visitor.call("send_message", {"conversation_id": cid, "text": "line one\n\tline two"})
    assert ack["ok"] is True
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Message)) == 1


# -- ids no row can have ---------------------------------------------------------------------

HUGE = str(2**70)


def test_ids_past_any_row_are_a_404_not_a_500(app, admin_client, csrf_from):
    for path in (f"/gdprchat/agent/?conversation={HUGE}",
                 f"/gdprchat/agent/conversations/{HUGE}.json",
                 f"/gdprchat/agent/conversations/{HUGE}/panel",
                 f"/gdprchat/agent/conversations/{HUGE}/export.csv"):
        assert admin_client.get(path).status_code == 404, path
    token = csrf_from(admin_client.get("/gdprchat/agent/").get_data(as_text=True))
    for path in (f"/gdprchat/agent/conversations/{HUGE}/transcript",
                 f"/gdprchat/agent/conversations/{HUGE}/delete",
                 f"/gdprchat/agent/contacts/{HUGE}",
                 f"/gdprchat/agent/contacts/{HUGE}/unsubscribe"):
        assert admin_client.post(path, data={"csrf_token": token}).status_code == 404, path


def test_the_dashboard_takes_ids_and_pages_past_any_row(app, admin_client, csrf_from):
    assert admin_client.get(f"/gdprchat/admin/team/?page={HUGE}").status_code == 200
    token = csrf_from(admin_client.get("/gdprchat/admin/team/").get_data(as_text=True))
    for view, action in (("team", "disable"), ("campaigns", "send")):
        response = admin_client.post(f"/gdprchat/admin/{view}/action/",
                                     data={"action": action, "rowid": HUGE, "csrf_token": token})
        assert response.status_code == 302, view


def test_socket_ids_past_any_row_get_a_clear_refusal(app, chat_server, chat_visitor, chat_agent):
    chat, visitor = chat_visitor(chat_server.url)
    agent = chat_agent(chat_server.url)
    huge = 2**70
    for event, data, error in (
        ("join", {"conversation_id": huge}, "no such conversation"),
        ("read", {"conversation_id": huge}, "no such conversation"),
        ("typing", {"conversation_id": huge}, "send {conversation_id}"),
        ("send_message", {"conversation_id": huge, "text": "hi"}, "no such conversation"),
        ("edit_message", {"message_id": huge, "text": "hi"}, "you can edit only your own"),
    ):
        ack = agent.call(event, data)
        assert ack["ok"] is False and ack["error"].startswith(error), (event, ack)
    ack = visitor.call("typing", {"conversation_id": huge})
    assert ack == {"ok": False, "error": "send {conversation_id}"}


# -- the privacy-policy link ----------------------------------------------------------------

WIDGET_FORM = {
    "prechat_fields": ["name"], "consent_text": "I accept.", "marketing_consent_text": "News.",
    "privacy_policy_version": "1", "widget_title": "Chat", "widget_greeting": "Hi",
    "widget_color": "#112233",
}


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)",
                                 " javascript:alert(1)", "data:text/html,<script>x</script>",
                                 "//evil.example/policy", "/\\evil.example", "https:///nohost"])
def test_the_policy_link_cannot_carry_script(app, agent_client, csrf_from, url):
    settings = agent_client("settings")
    page = settings.get("/gdprchat/admin/widget/").get_data(as_text=True)
    response = settings.post("/gdprchat/admin/widget/", data={
        **WIDGET_FORM, "privacy_policy_url": url, "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert ("Privacy policy URL: Enter an address starting with https:// or a path on this site"
            in response.get_data(as_text=True))
    script = app.test_client().get("/gdprchat/widget.js").get_data(as_text=True)
    assert "javascript" not in script.lower() and "evil.example" not in script


def test_the_policy_link_may_be_a_web_address_or_a_path(make_app):
    from flask_gdprchat.core.config import ConfigError

    for url in ("https://shop.example/privacy", "http://shop.example/p?v=2", "/privacy"):
        make_app(GDPRCHAT_PRIVACY_POLICY_URL=url)
    with pytest.raises(ConfigError, match="GDPRCHAT_PRIVACY_POLICY_URL"):
        make_app(GDPRCHAT_PRIVACY_POLICY_URL="javascript:alert(1)")


# -- the agent's rectification ----------------------------------------------------------------


@pytest.mark.parametrize("body", ['"name email"', "[1]", "null", "3"])
def test_rectifying_with_json_that_is_not_an_object_is_refused(app, admin_client, csrf_from,
                                                               make_contact, body):
    contact_id = make_contact("c@example.test", name="Carla")
    token = csrf_from(admin_client.get("/gdprchat/agent/").get_data(as_text=True))
    response = admin_client.post(f"/gdprchat/agent/contacts/{contact_id}", data=body,
                                 content_type="application/json",
                                 headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json() == {"ok": False,
                                   "error": "Send the corrections as a form or a JSON object."}
    with app.app_context():
        assert session().get(Contact, contact_id).name == "Carla"
