"""The example clinic site: its pages carry the chat, its patients are known to it."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_login import login_user

from example_app import Patient, create_app, db
from example_app.demo import ADMIN_EMAIL, PATIENT_EMAIL, PATIENT_NAME, PATIENT_PASSWORD, set_up
from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is

from .conftest import login

PAGES = ["/", "/treatments", "/prices", "/contact", "/patients/sign-in"]
WIDGET_TAG = re.compile(r'<script src="/gdprchat/widget\.js" defer[^>]*></script>')
IDENTIFIED = 'data-gdprchat-identified="1"'


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Flask]:
    """The example site on a throw-away instance folder, demo accounts made."""
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True, "GDPRCHAT_SCHEDULER": False}
    )
    app.config["demo_accounts"] = set_up(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def sign_in_patient(client: Any, email: str = PATIENT_EMAIL, password: str = PATIENT_PASSWORD) -> Any:
    page = client.get("/patients/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "the sign-in form has no CSRF token"
    return client.post(
        "/patients/sign-in",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
    )


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_the_chat_widget(site: Flask, path: str) -> None:
    response = site.test_client().get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(WIDGET_TAG.findall(html)) == 1
    assert IDENTIFIED not in html  # nobody is signed in
    assert "Brightsmile" in html


def test_the_widget_script_is_served(site: Flask) -> None:
    response = site.test_client().get("/gdprchat/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"


def test_patient_area_widget_and_own_sign_in_work_beside_the_chat(site: Flask) -> None:
    client = site.test_client()
    assert client.get("/patients/").status_code == 302  # the host's login_required
    response = sign_in_patient(client)
    assert response.status_code == 302 and response.location.endswith("/patients/")
    page = client.get("/patients/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hello, Maria" in html
    # The widget is told the visitor is known, so it skips the pre-chat fields.
    tag = WIDGET_TAG.search(html)
    assert tag and IDENTIFIED in tag.group(0)


def test_a_wrong_patient_password_is_refused(site: Flask) -> None:
    client = site.test_client()
    assert sign_in_patient(client, password="not-the-password").status_code == 401
    assert client.get("/patients/").status_code == 302


def test_a_signed_in_patient_is_identified_to_the_chat(site: Flask) -> None:
    identify = site.extensions["gdprchat"].identify_visitor
    assert identify is not None
    with site.test_request_context("/"):
        assert identify() is None  # anonymous visitors fill in the pre-chat form
        patient = db.session.execute(db.select(Patient).filter_by(email=PATIENT_EMAIL)).scalar_one()
        login_user(patient)
        assert identify() == {
            "external_id": f"patient-{patient.id}",
            "name": PATIENT_NAME,
            "email": PATIENT_EMAIL,
        }


def test_the_demo_admin_signs_in_to_the_console(site: Flask) -> None:
    password = site.config["demo_accounts"].admin_password
    client = site.test_client()
    response = login(client, ADMIN_EMAIL, password)
    assert response.status_code == 302 and response.location.endswith("/gdprchat/agent/")
    assert client.get("/gdprchat/agent/").status_code == 200


def test_agent_and_patient_sign_ins_live_side_by_side(site: Flask) -> None:
    client = site.test_client()
    assert sign_in_patient(client).status_code == 302
    password = site.config["demo_accounts"].admin_password
    assert login(client, ADMIN_EMAIL, password).status_code == 302
    # The patient is still the host's current user, and the agent still signed in.
    assert "Hello, Maria" in client.get("/patients/").get_data(as_text=True)
    assert client.get("/gdprchat/agent/").status_code == 200
    with client.session_transaction() as flask_session:
        assert "_user_id" in flask_session and "_gdprchat_agent" in flask_session


def test_set_up_is_idempotent_and_keeps_the_demo_password(site: Flask) -> None:
    first = site.config["demo_accounts"]
    again = set_up(site)
    assert again.admin_password == first.admin_password
    assert len(again.admin_password or "") >= 10
    with site.app_context():
        assert session().query(Agent).filter(agent_email_is(ADMIN_EMAIL)).count() == 1
        assert db.session.query(Patient).count() == 1


def test_the_site_key_is_generated_once_and_kept(tmp_path: Any) -> None:
    config = {"INSTANCE_PATH": str(tmp_path), "TESTING": True, "GDPRCHAT_SCHEDULER": False}
    first, second = create_app(dict(config)), create_app(dict(config))
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


@pytest.mark.browser
def test_home_page_in_chromium(site: Flask, live_server: Any, browser: Any, screenshot: Any) -> None:
    server = live_server(site)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    with page.expect_response(lambda r: r.url.endswith("/gdprchat/widget.js")) as widget:
        page.goto(server.url + "/")
    assert widget.value.status == 200
    assert page.get_by_role("heading", name="Healthy teeth, unhurried care.").is_visible()
    launcher = page.locator("#gdprchat-launcher")
    launcher.wait_for(state="visible")
    screenshot(page, "example-home")
    screenshot(page, "example-home-full", full_page=True)
    launcher.click()
    page.locator("#gdprchat-panel").wait_for(state="visible")
    screenshot(page, "example-home-chat-open")
    # Anonymous, with nobody online: the form to leave a message asks for the name too.
    assert page.get_by_label("Name (optional)").is_visible()
    page.close()


@pytest.mark.browser
def test_signed_in_patient_skips_the_pre_chat_fields_in_chromium(
    site: Flask, live_server: Any, browser: Any, screenshot: Any
) -> None:
    server = live_server(site)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.url + "/patients/sign-in")
    page.locator("main input[name=email]").fill(PATIENT_EMAIL)
    page.locator("main input[name=password]").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Hello, Maria").wait_for()
    page.locator("#gdprchat-launcher").click()
    page.locator("#gdprchat-panel").wait_for(state="visible")
    consent = page.get_by_label(re.compile(r"^I agree that my details and messages are used only "
                                           r"to answer me .* Privacy policy$"))
    consent.wait_for(state="visible")  # consent is still asked for
    assert not page.get_by_label("Name (optional)").is_visible()
    screenshot(page, "example-patient-chat-open")
    page.goto(server.url + "/prices")
    assert page.get_by_role("cell", name="€65").first.is_visible()
    screenshot(page, "example-prices")
    page.close()


@pytest.mark.parametrize("path", ["/", "/treatments", "/prices", "/contact", "/gdprchat/widget.js",
                                  "/gdprchat/api/config"])
def test_no_cookie_is_set_before_consent(site: Flask, path: str) -> None:
    """What a data-protection officer checks first: visiting sets no cookie at all."""
    response = site.test_client().get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers, response.headers.get("Set-Cookie")


def test_send_campaign_on_the_example_site_works_from_the_command_line(site: Flask) -> None:
    result = site.test_cli_runner().invoke(
        args=["gdprchat", "send-campaign", "--subject", "Checkup", "--body", "Time for one."])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
