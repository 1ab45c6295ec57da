"""Every visitor in their own language: choosing it, translating into it, the catalogs."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from sqlalchemy import select

from flask_gdprchat import GDPRChat
from flask_gdprchat.chat.campaigns import create_and_send, unsubscribe_token
from flask_gdprchat.core.config import DEFAULTS, ConfigError
from flask_gdprchat.core.i18n import EU_LANGUAGES, TRANSLATED_DEFAULTS, TRANSLATIONS_DIR
from flask_gdprchat.core.models import ConsentRecord, Contact
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session
from tests.plugins.mail import body_html, body_text
from tests.test_admin_settings import WIDGET_FORM

#: Languages whose catalog must be complete: every one the chat ships;
#: GDPRCHAT_TEST_LANGUAGES=fr,it checks a catalog being written without editing this.
COMPLETE_LANGUAGES = (os.environ.get("GDPRCHAT_TEST_LANGUAGES") or "").split(",") if os.environ.get(
    "GDPRCHAT_TEST_LANGUAGES") else list(EU_LANGUAGES)  # all 24 official EU languages

ROOT = Path(__file__).resolve().parents[1]
POT = TRANSLATIONS_DIR / "gdprchat.pot"
#: The consent line in German, as the box reads and the record keeps it (270 days).
GERMAN_CONSENT = ("Ich bin einverstanden, dass meine Angaben und Nachrichten nur zur Beantwortung "
                  "meiner Anfrage verwendet und 270 Tage nach unserer letzten Nachricht gelöscht "
                  "werden. Datenschutzerklärung")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
EMAIL = "lena.lang@example.test"


# -- what "no English left" means -------------------------------------------------------


def _catalog(language: str) -> Any:
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "gdprchat.po", "rb") as handle:
        return read_po(handle, locale=language)


@cache
def _english_sentences(language: str) -> tuple[str, ...]:
    """English msgids (and plural forms) longer than 20 characters that ``language``
    translates differently: none of them may appear on its pages."""
    catalog = _catalog(language)
    sentences = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            if len(text) > 20 and text not in strings:
                sentences.append(text)
    return tuple(sentences)


def assert_no_english(text: str, language: str) -> None:
    left = [s for s in _english_sentences(language) if s in text]
    assert left == [], f"English left on a {language} page: {left}"


def page_text(response: Any) -> str:
    assert response.status_code < 500, response.status_code
    return html.unescape(response.get_data(as_text=True))


def html_lang(page: str) -> str | None:
    match = re.search(r'<html lang="([^"]*)"', page)
    return match.group(1) if match else None


def widget_strings(body: str) -> dict[str, Any]:
    """The widget's settings and its words, as the script carries them."""
    settings = re.search(r"var SETTINGS = (\{.*?\});\n", body)
    words = re.search(r"var T = (\{.*?\});\n", body)
    assert settings and words, "the widget script carries no settings or words"
    return {"settings": json.loads(settings.group(1)), "words": json.loads(words.group(1))}


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no csrf_token on the page"
    return match.group(1)


def start_chat(client: Any, *, locale: str | None = None, email: str = EMAIL,
               marketing: bool = True, **headers: str) -> Any:
    body: dict[str, Any] = {"consent": True, "policy_version": "1", "name": "Lena Lang",
                            "email": email, "marketing_consent": marketing}
    if locale is not None:
        body["locale"] = locale
    return client.post("/gdprchat/api/conversations", json=body, headers=headers)


# -- every page, the mail and the widget, per complete language ----------------------------


@pytest.mark.parametrize("language", COMPLETE_LANGUAGES)
def test_pages_mail_and_widget_are_wholly_in_the_language_asked(make_app, smtp_server, language):
    app = make_app(GDPRCHAT_CONTROLLER_EMAIL="privacy@example.test", GDPRCHAT_STORE_IP=True)
    client = app.test_client()
    assert start_chat(client, locale=language).status_code == 201
    q = f"?lang={language}"

    for path in ("/gdprchat/privacy", "/gdprchat/privacy/policy",
                 "/gdprchat/privacy/not-a-token", "/gdprchat/privacy/x/export.zip"):
        page = page_text(client.get(path + q))
        assert html_lang(page) == language, path
        assert_no_english(page, language)

    # A real privacy link: asked for on the page in that language, mailed in it.
    form = page_text(client.get("/gdprchat/privacy" + q))
    sent = client.post("/gdprchat/privacy/request" + q,
                       data={"email": EMAIL, "csrf_token": csrf(form)})
    sent_page = page_text(sent)
    sent.close()  # the mail goes out once the answer is sent
    assert html_lang(sent_page) == language
    assert_no_english(sent_page, language)
    (mail,) = smtp_server.wait_for(1)
    assert mail["Content-Language"] == language
    for part in (mail["Subject"], body_text(mail), body_html(mail)):
        assert_no_english(html.unescape(part), language)
    link = re.search(r"https?://\S+/gdprchat/privacy/[A-Za-z0-9_.\-]+\?lang=\w+", body_text(mail))
    assert link, "no privacy link in the mail"
    subject_page = page_text(client.get(link.group(0)))
    assert html_lang(subject_page) == language
    assert "Lena Lang" in subject_page
    assert_no_english(subject_page, language)

    with app.app_context():
        contact_id = session().scalars(select(Contact.id)).one()
        token = unsubscribe_token(contact_id)
    unsubscribe = page_text(client.get(f"/gdprchat/unsubscribe/{token}{q}"))
    assert html_lang(unsubscribe) == language and 'method="post"' in unsubscribe
    assert_no_english(unsubscribe, language)
    done = page_text(client.post(f"/gdprchat/unsubscribe/{token}{q}", data={"confirm": "1"}))
    assert html_lang(done) == language
    assert_no_english(done, language)

    widget = widget_strings(client.get("/gdprchat/widget.js" + q).get_data(as_text=True))
    assert widget["settings"]["lang"] == language
    assert_no_english(json.dumps(widget, ensure_ascii=False), language)


def test_the_language_switch_names_each_language_in_itself(client):
    page = page_text(client.get("/gdprchat/privacy?lang=de"))
    assert '<a href="/gdprchat/privacy?lang=en" hreflang="en" lang="en">English</a>' in page
    assert 'hreflang="de" lang="de" aria-current="true">Deutsch</a>' in page
    # Only languages with a catalog are offered: the page never claims one it cannot speak.
    offered = re.findall(r'hreflang="(\w+)"', page)
    assert set(offered) >= set(COMPLETE_LANGUAGES) and set(offered) <= set(EU_LANGUAGES)
    # A chosen language sticks through the pages' own links.
    assert 'href="/gdprchat/privacy/policy?lang=de"' in page


# -- choosing the language ---------------------------------------------------------------------


def test_accept_language_picks_the_language(client):
    page = page_text(client.get("/gdprchat/privacy",
                                headers={"Accept-Language": "ja;q=0.9, de-AT;q=0.8, en;q=0.5"}))
    # Japanese is not offered, so Austrian German is the browser's best offered choice.
    assert html_lang(page) == "de" and "Datenschutz-Center" in page
    assert html_lang(page_text(client.get("/gdprchat/privacy"))) == "en"


def test_lang_wins_over_accept_language_and_an_unknown_one_falls_back(client):
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    assert html_lang(page_text(client.get("/gdprchat/privacy?lang=en", headers=german))) == "en"
    assert html_lang(page_text(client.get("/gdprchat/privacy?lang=xx", headers=german))) == "de"
    assert html_lang(page_text(client.get("/gdprchat/privacy?lang=xx"))) == "en"
    # Region and script subtags name their language.
    assert html_lang(page_text(client.get("/gdprchat/privacy?lang=de_CH"))) == "de"


def test_the_default_language_is_configurable_and_must_be_offered(make_app):
    app = make_app(GDPRCHAT_DEFAULT_LANGUAGE="de")
    assert html_lang(page_text(app.test_client().get("/gdprchat/privacy"))) == "de"
    with pytest.raises(ConfigError, match="GDPRCHAT_DEFAULT_LANGUAGE"):
        make_app(GDPRCHAT_LANGUAGES=["en", "fr"], GDPRCHAT_DEFAULT_LANGUAGE="de")
    with pytest.raises(ConfigError, match="GDPRCHAT_LANGUAGES"):
        make_app(GDPRCHAT_LANGUAGES=["en", "en"])
    # A language left out of the list is not given, whatever the browser asks.
    english_only = make_app(GDPRCHAT_LANGUAGES=["en"])
    page = page_text(english_only.test_client().get(
        "/gdprchat/privacy?lang=de", headers={"Accept-Language": "de"}))
    assert html_lang(page) == "en"


@pytest.fixture
def babel_host(tmp_path: Path) -> Iterator[Any]:
    """``babel_host(order)``: a host app with its own Flask-Babel choosing German,
    registered before or after the chat."""
    from flask_babel import Babel

    made: list[Flask] = []

    def make(order: str) -> Flask:
        app = Flask(f"babel_host_{len(made)}", instance_path=str(tmp_path / f"i{len(made)}"))
        app.config.update(TESTING=True, SECRET_KEY="test", GDPRCHAT_SCHEDULER=False)
        babel = Babel()
        if order == "babel-first":
            babel.init_app(app, locale_selector=lambda: "de_AT")
            GDPRChat(app)
        else:
            GDPRChat(app)
            babel.init_app(app, locale_selector=lambda: "de_AT")
        # The host's own page translates with the host's own catalogs.
        app.add_url_rule("/host", "host", lambda: render_template_string(
            "{{ _('Privacy policy') }}|{{ gettext('Chat with us') }}"))
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            session().remove()
            app.extensions["gdprchat"].db.engine.dispose()


@pytest.mark.parametrize("order", ["babel-first", "chat-first"])
def test_a_host_with_flask_babel_gets_the_chat_in_its_locale(babel_host, order):
    app = babel_host(order)
    client = app.test_client()
    english_browser = {"Accept-Language": "en"}
    page = page_text(client.get("/gdprchat/privacy", headers=english_browser))
    assert html_lang(page) == "de" and "Datenschutz-Center" in page
    widget = widget_strings(client.get("/gdprchat/widget.js", headers=english_browser)
                            .get_data(as_text=True))
    assert widget["words"]["startChat"] == "Chat starten"
    # ?lang= still wins over the host's choice.
    assert html_lang(page_text(client.get("/gdprchat/privacy?lang=en"))) == "en"
    # The chat's catalog never leaks into the host's own templates.
    assert client.get("/host").get_data(as_text=True) == "Privacy policy|Chat with us"


def test_a_host_without_flask_babel_keeps_its_own_locale_choice_and_jinja(app):
    # Registered for Flask-Admin's sake, with no selector: it chooses nothing.
    babel = app.extensions["babel"]
    assert babel.locale_selector is None
    assert "_" not in app.jinja_env.globals and "gettext" not in app.jinja_env.globals
    from flask_admin.babel import gettext as admin_gettext

    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        assert admin_gettext("Home") in ("Home", "Startseite")


# -- consent in the visitor's language ----------------------------------------------------------


def test_the_consent_record_keeps_the_locale_and_the_german_wording(app, client):
    response = start_chat(client, locale="de", **{"Accept-Language": "en"})
    assert response.status_code == 201, response.get_json()
    german = GERMAN_CONSENT
    with app.app_context():
        records = {r.purpose: r for r in session().scalars(select(ConsentRecord))}
        assert records["privacy_policy"].locale == "de"
        assert records["privacy_policy"].wording == german
        assert records["marketing"].wording.endswith("(freiwillig)")
    chat = app.extensions["gdprchat"].chat
    with app.app_context():
        exported = json.loads(chat.export_subject(EMAIL, "json"))
        csv_export = chat.export_subject(EMAIL, "csv").decode()
        xml_export = chat.export_subject(EMAIL, "xml")
    (contact,) = exported["contacts"]
    consent = next(c for c in contact["consents"] if c["purpose"] == "privacy_policy")
    assert (consent["locale"], consent["wording"]) == ("de", german)
    assert "locale,de" in csv_export and german in csv_export
    assert b"<locale>de</locale>" in xml_export


def test_without_a_locale_the_request_language_is_recorded(app, client):
    assert start_chat(client, **{"Accept-Language": "de"}).status_code == 201
    with app.app_context():
        record = session().scalars(select(ConsentRecord)).first()
        assert record.locale == "de" and record.wording == GERMAN_CONSENT


@pytest.mark.parametrize("locale", ["xx", "", 7, "de-DE"])
def test_a_locale_that_is_not_offered_is_a_422_naming_the_field(app, client, locale):
    response = start_chat(client, locale=locale)
    assert response.status_code == 422
    assert response.get_json()["field"] == "locale"
    with app.app_context():
        assert session().scalars(select(Contact)).first() is None  # nothing stored


def test_api_errors_are_in_the_visitor_language(client):
    response = client.post("/gdprchat/api/conversations?lang=de",
                           json={"consent": False, "policy_version": "1"})
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "consent: Setzen Sie das Häkchen, um die Datenschutzerklärung zu akzeptieren.")
    bad = client.post("/gdprchat/api/conversations", headers={"Accept-Language": "de"},
                      json={"consent": True, "policy_version": "1", "email": "nope"})
    assert bad.get_json()["fields"]["email"] == ["Geben Sie eine gültige E-Mail-Adresse ein."]


def test_a_wording_per_language_is_shown_and_recorded_in_that_language(make_app):
    app = make_app(GDPRCHAT_CONSENT_TEXT={"en": "I agree to the policy.",
                                          "de": "Ich stimme der Erklärung zu."})
    client = app.test_client()
    german = widget_strings(client.get("/gdprchat/widget.js?lang=de").get_data(as_text=True))
    english = widget_strings(client.get("/gdprchat/widget.js?lang=en").get_data(as_text=True))
    assert german["settings"]["consentText"] == "Ich stimme der Erklärung zu."
    assert english["settings"]["consentText"] == "I agree to the policy."
    assert start_chat(client, locale="de", marketing=False).status_code == 201
    with app.app_context():
        record = session().scalars(select(ConsentRecord)).one()
        # The site's German text, then the link's German words, as the box read.
        assert (record.locale, record.wording) == (
            "de", "Ich stimme der Erklärung zu. Datenschutzerklärung")
    with pytest.raises(ConfigError, match="GDPRCHAT_CONSENT_TEXT"):
        make_app(GDPRCHAT_CONSENT_TEXT={"en": "I agree.", "tlh": "HIja'"})
    with pytest.raises(ConfigError, match="GDPRCHAT_MARKETING_CONSENT_TEXT"):
        make_app(GDPRCHAT_MARKETING_CONSENT_TEXT={"de": ""})


def test_a_site_text_that_is_one_string_is_shown_as_written(make_app):
    app = make_app(GDPRCHAT_CONSENT_TEXT="I accept Acme's privacy policy.")
    widget = widget_strings(app.test_client().get("/gdprchat/widget.js?lang=de")
                            .get_data(as_text=True))
    assert widget["settings"]["consentText"] == "I accept Acme's privacy policy."
    assert widget["settings"]["marketingText"].endswith("(freiwillig)")  # still the default


def test_the_dashboard_edits_the_wording_per_language(app, admin_client, csrf_from):
    url = "/gdprchat/admin/widget/"
    form = {**WIDGET_FORM, "consent_text": '{"en": "I agree.", "de": "Ich stimme zu."}',
            "marketing_consent_text": "News, please."}
    token = csrf_from(admin_client.get(url).get_data(as_text=True))
    assert admin_client.post(url, data={**form, "csrf_token": token}).status_code == 302
    with app.test_request_context():
        assert setting("CONSENT_TEXT") == {"en": "I agree.", "de": "Ich stimme zu."}
        assert setting("MARKETING_CONSENT_TEXT") == "News, please."
    page = admin_client.get(url).get_data(as_text=True)
    assert html.unescape(page).count('"de": "Ich stimme zu."') == 1  # shown back as JSON
    for bad in ('{"en": "I agree.", "xx": "?"}', '{"en": ', '{"en": 1}', "{}"):
        token = csrf_from(admin_client.get(url).get_data(as_text=True))
        response = admin_client.post(url, data={**form, "consent_text": bad, "csrf_token": token})
        assert response.status_code == 400, bad
    with app.test_request_context():
        assert setting("CONSENT_TEXT") == {"en": "I agree.", "de": "Ich stimme zu."}


# -- mail to a contact is in the contact's language -------------------------------------------


def test_a_campaign_footer_is_in_the_language_the_contact_consented_in(make_app, smtp_server):
    app = make_app(SERVER_NAME="shop.example")
    client = app.test_client()
    assert start_chat(client, locale="de").status_code == 201
    with app.app_context():
        create_and_send("Neu bei uns", "Unsere Praxis hat jetzt samstags geöffnet.")
    (mail,) = smtp_server.wait_for(1)
    assert mail["Content-Language"] == "de"
    assert "Sie können sich jederzeit abmelden:" in body_text(mail)
    assert 'lang="de"' in body_html(mail)
    assert_no_english(body_text(mail) + body_html(mail), "de")


def test_the_widget_script_is_cacheable_per_language(client):
    german = client.get("/gdprchat/widget.js?lang=de")
    assert german.headers["Cache-Control"] == "no-cache" and german.headers.get("ETag")
    assert "Accept-Language" not in german.headers.get("Vary", "")
    again = client.get("/gdprchat/widget.js?lang=de",
                       headers={"If-None-Match": german.headers["ETag"]})
    assert again.status_code == 304
    english = client.get("/gdprchat/widget.js?lang=en")
    assert english.headers["ETag"] != german.headers["ETag"]
    negotiated = client.get("/gdprchat/widget.js", headers={"Accept-Language": "de"})
    assert "Accept-Language" in negotiated.headers["Vary"]
    assert widget_strings(negotiated.get_data(as_text=True))["settings"]["lang"] == "de"


# -- the catalogs ---------------------------------------------------------------------------------


def _ids(message: Any) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (tuple, list)) else (message.id,)


def _strings(message: Any) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def test_every_eu_language_has_a_catalog_in_step_with_the_template():
    with open(POT, "rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    for language in EU_LANGUAGES:
        catalog = _catalog(language)
        assert not catalog.fuzzy, f"{language}: the header is marked fuzzy"
        assert {m.id for m in catalog if m.id} == template, f"{language}: run make i18n-update"


@pytest.mark.parametrize("language", COMPLETE_LANGUAGES)
def test_a_complete_catalog_translates_everything_and_keeps_placeholders(language):
    catalog = _catalog(language)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        wanted = {p for text in _ids(message) for p in PLACEHOLDER.findall(text)}
        for text in _strings(message):
            if not text:
                problems.append(("untranslated", message.id))
            elif {p for p in PLACEHOLDER.findall(text)} != wanted:
                problems.append(("placeholders", message.id))
    assert problems == []


def test_the_compiled_catalogs_are_up_to_date_with_the_po_files(tmp_path):
    for language in EU_LANGUAGES:
        folder = TRANSLATIONS_DIR / language / "LC_MESSAGES"
        catalog = _catalog(language)
        fresh = tmp_path / f"{language}.mo"
        with open(fresh, "wb") as handle:
            write_mo(handle, catalog)
        with open(fresh, "rb") as new, open(folder / "gdprchat.mo", "rb") as shipped:
            expected = {(_ids(m), _strings(m)) for m in read_mo(new) if m.id}
            actual = {(_ids(m), _strings(m)) for m in read_mo(shipped) if m.id}
        assert actual == expected, f"{language}: run make i18n-compile"


def test_the_template_holds_every_string_the_code_marks(tmp_path):
    extracted = tmp_path / "fresh.pot"
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "lazy_gettext", "-k", "N_", "-o", str(extracted), "."],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with open(extracted, "rb") as new, open(POT, "rb") as committed:
        fresh = {m.id for m in read_po(new) if m.id}
        shipped = {m.id for m in read_po(committed) if m.id}
    assert fresh - shipped == set(), "strings missing from the .pot: run make i18n-extract"
    assert shipped - fresh == set(), "strings no longer used: run make i18n-extract"


def test_built_in_defaults_shown_to_visitors_are_catalog_strings():
    for key, msgid in TRANSLATED_DEFAULTS.items():
        assert DEFAULTS[key] == msgid, key
    german = {m.id: m.string for m in _catalog("de") if m.id}
    assert all(german[msgid] for msgid in TRANSLATED_DEFAULTS.values())


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture
def example_site(tmp_path: Path) -> Iterator[Flask]:
    """The example clinic site on a throw-away instance folder."""
    from example_app import create_app, db

    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "GDPRCHAT_SCHEDULER": False})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.browser
def test_a_german_browser_gets_the_widget_in_german(example_site, live_server, browser,
                                                    screenshot):
    from playwright.sync_api import expect

    from flask_gdprchat.core.models import LiveSocket
    from flask_gdprchat.team.agents import create_agent

    with example_site.app_context():  # someone can answer: the widget offers a live chat
        agent = create_agent("lena.agent@example.test", "Lena Agent", "a long enough password")
        session().add(LiveSocket(sid="console-of-lena", agent_id=agent.id))
        session().commit()
    server = live_server(example_site)
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        page.locator("#gdprchat-launcher").click()
        page.locator("#gdprchat-prechat").wait_for()
        expect(page.get_by_role("button", name="Chat starten")).to_be_visible()
        consent = page.get_by_label(GERMAN_CONSENT)
        expect(consent).to_be_visible()
        expect(page.get_by_label("Name (freiwillig)")).to_be_visible()
        screenshot(page, "widget-prechat-de")
        page.locator("#gdprchat-field-name").fill("Lena Lang")
        consent.check()
        # The chat is started (and its consent stored) before the page is left.
        page.get_by_role("button", name="Chat starten").click()
        expect(page.locator("#gdprchat-input")).to_have_attribute(
            "placeholder", "Nachricht schreiben …")
        # The conversation (and its consent record) starts with the first message.
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and "/gdprchat/api/conversations" in r.url) as sent:
            page.locator("#gdprchat-input").fill("Hallo")
            page.locator("#gdprchat-input").press("Enter")
        assert sent.value.status == 201
    finally:
        context.close()
    with example_site.app_context():
        record = session().scalars(select(ConsentRecord)).one()
        assert record.locale == "de"
        assert record.wording == GERMAN_CONSENT


def _catalog_text(language: str, msgid: str) -> str:
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "gdprchat.po").open("rb") as handle:
        return read_po(handle)[msgid].string


@pytest.mark.browser
def test_a_french_page_and_a_german_browser_each_record_their_own_language(
        example_site, live_server, browser, screenshot):
    """The widget follows the host page's <html lang> first, then the browser; the
    consent record keeps the language and the exact wording shown in it."""
    from playwright.sync_api import expect

    from flask_gdprchat.core.models import LiveSocket
    from flask_gdprchat.team.agents import create_agent

    @example_site.get("/fr/")
    def french_page() -> str:
        return render_template_string(
            '<!doctype html><html lang="fr"><head><title>Cabinet</title></head>'
            "<body><h1>Bienvenue</h1>{{ gdprchat_widget() }}</body></html>")

    with example_site.app_context():
        agent = create_agent("lena.agent@example.test", "Lena Agent", "a long enough password")
        session().add(LiveSocket(sid="console-of-lena", agent_id=agent.id))
        session().commit()
    server = live_server(example_site)
    french_consent = (_catalog_text("fr", TRANSLATED_DEFAULTS["CONSENT_TEXT"]) % {"days": 270}
                      + " " + _catalog_text("fr", "Privacy policy"))
    french_start = _catalog_text("fr", "Start chat")
    for path, locale, label, start, name in (
            ("/", "de-DE", GERMAN_CONSENT, "Chat starten", "Lena Lang"),
            ("/fr/", "de-DE", french_consent, french_start, "Lucie Laurent")):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        try:
            page.goto(server.url + path)
            page.locator("#gdprchat-launcher").click()
            page.locator("#gdprchat-prechat").wait_for()
            consent = page.get_by_label(label)
            expect(consent).to_be_visible()
            screenshot(page, f"widget-prechat-{'fr' if 'fr' in path else 'de'}-page")
            page.locator("#gdprchat-field-name").fill(name)
            page.locator("#gdprchat-field-email").fill(
                f"{name.split()[0].lower()}@example.test")
            consent.check()
            page.get_by_role("button", name=start).click()
            page.locator("#gdprchat-input").wait_for()
        finally:
            context.close()
    with example_site.app_context():
        records = {r.locale: r.wording for r in session().scalars(select(ConsentRecord))}
        assert records == {"de": GERMAN_CONSENT, "fr": french_consent}
    chat = example_site.extensions["gdprchat"].chat
    with example_site.app_context():
        exported = json.loads(chat.export_subject("lucie@example.test", "json"))
    [consent_record] = exported["contacts"][0]["consents"]
    assert (consent_record["locale"], consent_record["wording"]) == ("fr", french_consent)
