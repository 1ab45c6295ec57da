"""The widget script and its markup: settings in force, nothing about the visitor."""
from __future__ import annotations

import json
import re

from flask import render_template_string

from flask_gdprchat.core.settings import save_settings


def embedded_settings(body: str) -> dict:
    match = re.search(r"var SETTINGS = (\{.*?\});\n", body)
    assert match, "no settings in the widget script"
    return json.loads(match.group(1))


def test_widget_script_carries_the_settings_in_force(app, client):
    response = client.get("/gdprchat/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Set-Cookie" not in response.headers
    settings = embedded_settings(response.get_data(as_text=True))
    assert settings["policyUrl"] == "/gdprchat/privacy/policy"
    assert settings["fields"] == ["name", "email", "company", "phone"]
    with app.app_context():
        save_settings({"WIDGET_COLOR": "#0f766e", "WIDGET_TITLE": "Ask Acme",
                       "PRECHAT_FIELDS": ["email"], "PRECHAT_REQUIRED": ["email"],
                       "PRIVACY_POLICY_VERSION": "7"})
    settings = embedded_settings(client.get("/gdprchat/widget.js").get_data(as_text=True))
    assert (settings["color"], settings["title"], settings["policyVersion"]) == ("#0f766e", "Ask Acme", "7")
    assert (settings["fields"], settings["required"]) == (["email"], ["email"])


def test_wording_cannot_break_out_of_the_script(make_app):
    app = make_app(GDPRCHAT_CONSENT_TEXT="I agree </script><script>alert(1)</script>",
                   GDPRCHAT_PRIVACY_POLICY_URL="https://example.test/privacy")
    body = app.test_client().get("/gdprchat/widget.js").get_data(as_text=True)
    assert "</script>" not in body
    settings = embedded_settings(body)
    assert settings["consentText"] == "I agree </script><script>alert(1)</script>"
    assert settings["policyUrl"] == "https://example.test/privacy"


def test_the_widget_never_builds_markup_from_chat_text(client):
    body = client.get("/gdprchat/widget.js").get_data(as_text=True)
    # innerHTML only ever receives our own constant icons.
    assert re.findall(r"innerHTML = (\w+)", body) == ["markup"]
    assert "insertAdjacentHTML" not in body and "document.write" not in body


def test_markup_is_a_deferred_script_tag(app):
    with app.test_request_context("/"):
        html = render_template_string("{{ gdprchat_widget() }}")
    assert html == '<script src="/gdprchat/widget.js" defer></script>'


def test_identified_visitors_skip_the_prechat_fields(app):
    chat = app.extensions["gdprchat"].chat
    user = {"external_id": "7", "name": "Host User", "email": "h@shop.test"}
    chat.identify_visitor(lambda: user)
    with app.test_request_context("/"):
        html = render_template_string("{{ gdprchat_widget() }}")
    assert 'data-gdprchat-identified="1"' in html
    assert "h@shop.test" not in html and "Host User" not in html


def test_the_socket_client_is_vendored_with_its_licence(client):
    script = client.get("/gdprchat/static/gdprchat/vendor/socket.io.min.js")
    assert script.status_code == 200
    assert script.get_data(as_text=True).startswith("/*!\n * Socket.IO v4.")
    script.close()
    licence = client.get("/gdprchat/static/gdprchat/vendor/socket.io-client.LICENSE")
    assert "MIT" in licence.get_data(as_text=True) or "Permission is hereby granted" in licence.get_data(as_text=True)
    licence.close()
