"""The privacy center: information, link requests, the subject's page and its actions."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.models import AuditEvent, Contact, Message, OutboundMail, SubjectRequest
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session
from flask_gdprchat.rights import links
from tests.plugins.mail import body_html, body_text
from tests.plugins.rights import files_holding, link_path, request_link

ACTIONS = ("transcript", "rectify", "erase", "restrict", "unrestrict", "unsubscribe")


def csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_privacy_page_states_what_why_how_long_and_who(make_app):
    app = make_app(GDPRCHAT_CONTROLLER_NAME="Tile World GmbH",
                   GDPRCHAT_CONTROLLER_EMAIL="privacy@tileworld.example")
    client = app.test_client()
    page = client.get("/gdprchat/privacy").get_data(as_text=True)
    assert "Tile World GmbH" in page and "privacy@tileworld.example" in page
    assert "270 days" in page and "183 days" in page and "until you ask us to erase" in page
    assert 'href="/gdprchat/privacy/policy"' in page
    assert 'action="/gdprchat/privacy/request"' in page and 'name="csrf_token"' in page
    # A change saved in the dashboard shows at once.
    with app.app_context():
        save_settings({"ANONYMOUS_RETENTION_DAYS": 30, "IDENTIFIED_RETENTION_DAYS": 400,
                       "RESTRICTED_GRACE_DAYS": 90})
    page = client.get("/gdprchat/privacy").get_data(as_text=True)
    assert "30 days" in page and "400 days" in page and "90 days" in page
    assert "270 days" not in page


def test_policy_page_shows_the_version_in_force(make_app):
    app = make_app(GDPRCHAT_PRIVACY_POLICY_VERSION="2024-07")
    page = app.test_client().get("/gdprchat/privacy/policy")
    assert page.status_code == 200
    assert "Version 2024-07" in page.get_data(as_text=True)
    app2 = make_app(GDPRCHAT_PRIVACY_POLICY_URL="https://shop.example/privacy")
    assert 'href="https://shop.example/privacy"' in app2.test_client().get(
        "/gdprchat/privacy").get_data(as_text=True)


def test_known_and_unknown_addresses_get_the_same_answer(make_app, make_subject, smtp_server):
    app = make_app()
    subject = make_subject(app)
    client = app.test_client()
    known = request_link(client, subject.email)
    unknown = request_link(client, "stranger@example.test")
    assert known.status_code == unknown.status_code == 200
    assert known.body_bytes == unknown.body_bytes
    assert b"Check your inbox" in known.body_bytes
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == subject.email.lower()
    assert "/gdprchat/privacy/" in body_text(mail) and "/gdprchat/privacy/" in body_html(mail)
    assert smtp_server.to("stranger@example.test") == []
    with app.app_context():
        kinds = session().execute(select(SubjectRequest.kind, SubjectRequest.status)).all()
        assert sorted(kinds) == [("access", "fulfilled"), ("access", "no_data")]
        assert session().scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_link_requests_are_throttled_per_address(make_app, make_subject, smtp_server):
    app = make_app(GDPRCHAT_LINK_REQUESTS_PER_HOUR=2)
    subject = make_subject(app)
    client = app.test_client()
    answers = [request_link(client, subject.email).body_bytes for _ in range(4)]
    assert len(set(answers)) == 1  # throttled requests look the same
    smtp_server.wait_for(2)
    other = make_subject(app, email="other@example.test", agent_email="bruno@example.test")
    request_link(client, other.email)
    smtp_server.wait_for(3)
    assert len(smtp_server.to(subject.email.lower())) == 2
    assert len(smtp_server.to("other@example.test")) == 1


def test_bad_addresses_are_told_what_to_fix(make_app):
    client = make_app().test_client()
    token = csrf(client, "/gdprchat/privacy")
    response = client.post("/gdprchat/privacy/request", data={"email": "not-an-address",
                                                               "csrf_token": token})
    assert response.status_code == 400
    assert "Enter the e-mail address" in response.get_data(as_text=True)
    assert client.post("/gdprchat/privacy/request", data={"email": "a@b.example"}).status_code == 400


def test_get_on_action_urls_changes_nothing(make_app, make_subject, client_for_link):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    for action in ACTIONS:
        assert client.get(f"{path}/{action}").status_code == 405, action
    assert client.get(f"{path}/confirm-erase").status_code == 200
    assert client.get(path).status_code == 200
    with app.app_context():
        contact = session().get(Contact, subject.contact_id)
        assert contact.restricted_at is None and contact.unsubscribed_at is None
        assert session().scalar(select(func.count()).select_from(Message)) == 4
        assert session().scalar(select(func.count()).select_from(SubjectRequest)) == 0


def test_posts_without_csrf_are_refused(make_app, make_subject, client_for_link):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    assert client.post(f"{path}/erase").status_code == 400
    with app.app_context():
        assert session().get(Contact, subject.contact_id) is not None


def test_link_pages_send_no_referrer_and_no_store(make_app, make_subject, client_for_link):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    for url in (path, f"{path}/export.json", f"{path}/confirm-erase", "/gdprchat/privacy",
                "/gdprchat/privacy/not-a-token"):
        response = client.get(url)
        assert response.headers["Referrer-Policy"] == "no-referrer", url
        assert "no-store" in response.headers["Cache-Control"], url


def test_bad_and_expired_links_say_so_and_offer_a_new_one(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    client = app.test_client()
    bad = client.get("/gdprchat/privacy/forged.token.value")
    assert bad.status_code == 404
    assert "not valid" in bad.get_data(as_text=True)
    assert 'action="/gdprchat/privacy/request"' in bad.get_data(as_text=True)

    class TwoDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 2 * 86400

    with app.test_request_context():
        good = links.make_token(subject.email)
        payload = URLSafeTimedSerializer(app.secret_key, salt=links.SALT).loads(good)
        stale = URLSafeTimedSerializer(app.secret_key, salt=links.SALT,
                                       signer=TwoDaysAgo).dumps(payload)
        old = payload
        other_purpose = URLSafeTimedSerializer(app.secret_key, salt="other").dumps(old)
    expired = client.get(f"/gdprchat/privacy/{stale}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert client.get(f"/gdprchat/privacy/{other_purpose}").status_code == 404
    assert client.get(f"/gdprchat/privacy/{good}").status_code == 200


def test_the_subject_page_shows_their_data_with_visitor_text_inert(make_app, make_subject,
                                                                    client_for_link):
    app = make_app()
    subject = make_subject(app, visitor_texts=["<script>alert('x')</script> hi", "second"])
    client, path = client_for_link(app, subject.email)
    page = client.get(path).get_data(as_text=True)
    assert subject.name in page and subject.company in page and subject.phone in page
    assert ("I agree that my details and messages are used only to answer me and are deleted "
            "270 days after our last message. Privacy policy") in page  # the consent as read
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; hi" in page
    assert "<script>alert" not in page
    assert "Bruno" in page
    for action in ("transcript", "rectify", "restrict", "unsubscribe"):
        assert f'action="{path}/{action}"' in page, action
    for fmt in ("csv", "json", "xml"):
        assert f'href="{path}/export.{fmt}"' in page
    assert f'href="{path}/confirm-erase"' in page
    confirm = client.get(f"{path}/confirm-erase").get_data(as_text=True)
    assert f'action="{path}/erase"' in confirm


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_subject_exercises_every_right_from_their_inbox(make_app, make_subject, smtp_server,
                                                          backend):
    app = make_app(backend)
    subject = make_subject(app)
    client = app.test_client()

    request_link(client, subject.email)
    (mail,) = smtp_server.wait_for(1)
    path = link_path(mail)
    assert client.get(path).status_code == 200

    # Access and portability: all three formats, each parsed.
    data = json.loads(client.get(f"{path}/export.json").data)
    messages = data["contacts"][0]["conversations"][0]["messages"]
    assert data["contacts"][0]["profile"]["phone"] == subject.phone
    assert [m["id"] for m in messages] == subject.message_ids
    rows = list(csv.DictReader(io.StringIO(client.get(f"{path}/export.csv").data.decode())))
    assert [r["value"] for r in rows if r["field"] == "text"] == [m["text"] for m in messages]
    assert {r["value"] for r in rows if r["section"] == "profile" and r["field"] == "name"} == {
        subject.name}
    tree = ET.fromstring(client.get(f"{path}/export.xml").data)
    assert tree.findtext("contact/profile/company") == subject.company
    assert [m.findtext("text") for m in tree.iter("message")] == [m["text"] for m in messages]

    # Transcript, text and HTML.
    token = csrf(client, path)
    response = client.post(f"{path}/transcript", data={"csrf_token": token})
    assert response.status_code == 303
    transcript = smtp_server.wait_for(2)[1]
    assert transcript["To"] == subject.email.lower()
    for text in subject.visitor_texts + subject.agent_texts:
        assert text in body_text(transcript) and text in body_html(transcript)

    # Rectification.
    response = client.post(f"{path}/rectify", data={
        "csrf_token": token, "name": "Samira Q. Fairweather", "email": subject.email,
        "company": subject.company, "phone": "+44 20 7946 0999"})
    assert response.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "Samira Q. Fairweather" in page and "+44 20 7946 0999" in page

    # Restriction, and lifting it.
    assert client.post(f"{path}/restrict", data={"csrf_token": token}).status_code == 303
    assert "Restricted" in client.get(path).get_data(as_text=True)
    refused = client.post(f"{path}/rectify", data={"csrf_token": token, "name": "Other"})
    assert refused.status_code == 409
    assert client.post(f"{path}/unrestrict", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert session().get(Contact, subject.contact_id).restricted_at is None

    # Objection.
    assert client.post(f"{path}/unsubscribe", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert session().get(Contact, subject.contact_id).unsubscribed_at is not None

    # Erasure.
    erased = client.post(f"{path}/erase", data={"csrf_token": token})
    assert erased.status_code == 200 and "erased" in erased.get_data(as_text=True)
    assert client.get(path).status_code == 410
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Contact)) == 0
        assert session().scalar(select(func.count()).select_from(Message)) == 0
        assert session().scalar(select(func.count()).select_from(OutboundMail)) == 0
        kinds = sorted(r.kind for r in session().scalars(select(SubjectRequest)))
        assert kinds == ["access", "erase", "export", "export", "export", "rectify", "restrict",
                         "transcript", "unrestrict", "unsubscribe"]
        values = subject.values + ["Samira Q. Fairweather", "+44 20 7946 0999"]
        for event in session().scalars(select(AuditEvent)):
            dumped = json.dumps([event.event, event.subject_ref, event.actor, event.details])
            assert not [v for v in values if v.lower() in dumped.lower()], event.event
        if backend == "sqlite":
            files = database_files()
            assert any(str(f).endswith("-wal") for f in files) or files
            assert files_holding(files, values) == {}
    runner = app.test_cli_runner()
    assert runner.invoke(args=["gdprchat", "verify-erasure", subject.email]).exit_code == 0


@pytest.mark.browser
def test_the_subject_page_looks_right(make_app, make_subject, live_server, browser, screenshot):
    app = make_app(GDPRCHAT_CONTROLLER_NAME="Quillfeather Tiles")
    subject = make_subject(app)
    with app.test_request_context():
        token = links.make_token(subject.email)
    server = live_server(app)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{server.url}/gdprchat/privacy")
        assert page.locator("h1").inner_text() == "Privacy center"
        screenshot(page, "privacy-center", full_page=True)
        page.goto(f"{server.url}/gdprchat/privacy/{token}")
        assert page.locator("text=Download your data").is_visible()
        assert page.locator(".gdprchat-bubble").count() == len(subject.message_ids)
        screenshot(page, "privacy-subject-page", full_page=True)
        page.click("text=Restrict processing")
        page.wait_for_selector("text=Processing of your data is restricted")
        screenshot(page, "privacy-subject-restricted", full_page=True)
        page.click("text=Erase my data")
        page.wait_for_selector("text=Erase everything?")
        screenshot(page, "privacy-confirm-erase", full_page=True)
        page.click("text=Yes, erase everything")
        page.wait_for_selector("text=Your data is erased")
        screenshot(page, "privacy-erased", full_page=True)
    finally:
        page.close()
