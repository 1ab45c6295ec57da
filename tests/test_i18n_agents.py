"""Agents in their own language: the console and its sign-in page, the agents' catalogs."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from flask_gdprchat.core.agent_i18n import (
    AGENT_DOMAIN,
    AGENT_KEYWORDS,
    AGENT_LANGUAGES,
    script_msgids,
)
from flask_gdprchat.core.i18n import TRANSLATIONS_DIR
from flask_gdprchat.web.console import CONSOLE_SCRIPT
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parents[1]
POT = TRANSLATIONS_DIR / f"{AGENT_DOMAIN}.pot"
VISITOR_POT = TRANSLATIONS_DIR / "gdprchat.pot"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
JSON = {"Accept": "application/json"}
#: Where only agents read: a visitor string found there went into the wrong domain.
AGENT_ONLY_SOURCES = (
    "flask_gdprchat/templates/gdprchat/console/",
    "flask_gdprchat/templates/gdprchat/login.html",
    "flask_gdprchat/static/gdprchat/console.js",
    "flask_gdprchat/web/console.py",
    "flask_gdprchat/web/auth.py",
    "flask_gdprchat/web/contact_actions.py",
)
#: The two ways an agent asks for German: the address, or the browser's setting.
GERMAN = {
    "query": ({"lang": "de"}, {}),
    "browser": ({}, {"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}),
}


# -- what "no English left" means -------------------------------------------------------


def _catalog(language: str) -> Any:
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{AGENT_DOMAIN}.po", "rb") as handle:
        return read_po(handle, locale=language)


def _ids(message: Any) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (tuple, list)) else (message.id,)


def _strings(message: Any) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


@cache
def _english_sentences(language: str) -> tuple[str, ...]:
    """English msgids longer than 20 characters that ``language`` translates differently
    (placeholders cut out: a filled one is not on the page as written)."""
    sentences = []
    for message in _catalog(language):
        if not message.id:
            continue
        for text in _ids(message):
            if len(text) > 20 and text not in _strings(message):
                sentences.extend(part for part in PLACEHOLDER.split(text) if len(part) > 20)
    return tuple(sentences)


def shown_text(response: Any) -> str:
    """What the page shows: the console script's words block is left out, as its keys
    are the English the script looks words up by (its values are checked apart)."""
    assert response.status_code < 500, response.status_code
    page = response.get_data(as_text=True)
    page = re.sub(r'<script type="application/json" id="gdprchat-console-words">.*?</script>',
                  "", page, flags=re.S)
    return html.unescape(page)


def assert_no_english(text: str, language: str = "de") -> None:
    left = [s for s in _english_sentences(language) if s in text]
    assert left == [], f"English left on a {language} page: {left}"


def html_lang(page: str) -> str | None:
    match = re.search(r'<html lang="([^"]*)"', page)
    return match.group(1) if match else None


def console_words(response: Any) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="gdprchat-console-words">(.*?)</script>',
                      response.get_data(as_text=True), flags=re.S)
    assert match, "the console carries no words block"
    words: dict[str, str] = json.loads(match.group(1))
    return words


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no csrf_token on the page"
    return match.group(1)


def with_query(path: str, query: dict[str, str]) -> str:
    if not query:
        return path
    return path + ("&" if "?" in path else "?") + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.fixture
def desk(app: Any, make_agent: Any, make_subject: Any) -> Any:
    """A subject's conversation and a client signed in as an agent who may do everything."""
    subject = make_subject(app)
    make_agent("dana@example.test", name="Dana Desk",
               permissions=["send_messages", "edit_messages", "user_data"])
    client = app.test_client()
    assert login(client, "dana@example.test").status_code == 302
    return client, subject


# -- the pages in German ---------------------------------------------------------------------


@pytest.mark.parametrize("how", GERMAN)
def test_the_console_is_wholly_german_when_german_is_asked(desk, how):
    client, subject = desk
    query, headers = GERMAN[how]
    cid = subject.conversation_id
    inbox = client.get(with_query(f"/gdprchat/agent/?conversation={cid}", query), headers=headers)
    page = shown_text(inbox)
    assert html_lang(page) == "de"
    assert "Der Betreiber dieser Website · Support" in page  # the built-in default, translated
    # The filter tab has its own, shorter word than the assignment menu ("Nicht zugewiesen").
    assert re.search(r'data-filter="unassigned"[^>]*>\s*Frei\b', page)
    # The contact panel and its actions are on the page: their words are checked too.
    assert "Daten des Kontakts" in page and "Chatverlauf per E-Mail senden" in page
    assert_no_english(page)

    panel = client.get(with_query(f"/gdprchat/agent/conversations/{cid}/panel", query),
                       headers=headers)
    assert panel.status_code == 200 and "Einwilligungen" in shown_text(panel)
    assert_no_english(shown_text(panel))


@pytest.mark.parametrize("how", GERMAN)
def test_the_sign_in_page_and_its_answers_are_german(client, make_agent, how):
    make_agent("dana@example.test")
    query, headers = GERMAN[how]
    url = with_query("/gdprchat/agent/login", query)
    form = shown_text(client.get(url, headers=headers))
    assert html_lang(form) == "de" and "Agenten-Konsole" in form
    assert_no_english(form)

    empty = client.post(url, headers=headers, data={"csrf_token": csrf(form)})
    assert empty.status_code == 400
    assert "Geben Sie Ihre E-Mail-Adresse und Ihr Passwort ein." in shown_text(empty)
    wrong = client.post(url, headers=headers, data={
        "csrf_token": csrf(form), "email": "dana@example.test", "password": "not it"})
    assert wrong.status_code == 401 and html_lang(shown_text(wrong)) == "de"
    assert "passen zu keinem aktiven Konto" in shown_text(wrong)
    assert_no_english(shown_text(wrong))

    signed_in = client.post(url, headers=headers, data={
        "csrf_token": csrf(form), "email": "dana@example.test", "password": PASSWORD})
    assert signed_in.status_code == 302
    console = client.get(signed_in.location, headers=headers)
    assert html_lang(shown_text(console)) == "de"
    out = client.post(with_query("/gdprchat/agent/logout", query), headers=headers,
                      data={"csrf_token": csrf(shown_text(console))}, follow_redirects=True)
    assert "Sie sind abgemeldet." in shown_text(out) and html_lang(shown_text(out)) == "de"


def test_the_console_script_gets_its_words_in_german(desk):
    client, _subject = desk
    german = {m.id: m.string for m in _catalog("de") if m.id and not m.context}
    words = console_words(client.get("/gdprchat/agent/?lang=de"))
    # Every word the script marks, each as the German catalog has it.
    assert set(words) == set(script_msgids(str(CONSOLE_SCRIPT))) != set()
    assert words == {msgid: german[msgid] for msgid in words}
    assert words["Reconnecting…"] == "Verbindung wird wiederhergestellt …"
    assert words["Not sent: %(error)s"] == "Nicht gesendet: %(error)s"
    english = console_words(client.get("/gdprchat/agent/"))
    assert english == {msgid: msgid for msgid in words}


def test_every_word_the_console_script_marks_reaches_the_page():
    source = CONSOLE_SCRIPT.read_text(encoding="utf-8")
    marked = {json.loads(f'"{text}"') for text in re.findall(r'_a\("((?:[^"\\]|\\.)*)"', source)}
    # An _a() inside another's arguments is one the extractor misses: its word would
    # be neither in the catalog nor on the page, and show in English.
    assert marked - set(script_msgids(str(CONSOLE_SCRIPT))) == set()
    assert len(marked) > 50


def test_agent_answers_to_the_console_script_are_german(app, desk, make_agent, login_as):
    client, subject = desk
    token = csrf(client.get("/gdprchat/agent/").get_data(as_text=True))
    fixed = client.post(f"/gdprchat/agent/contacts/{subject.contact_id}?lang=de", headers=JSON,
                        data={"csrf_token": token, "name": "Samira Fairweather",
                              "phone": "+44 20 7000 0000"})
    assert fixed.get_json() == {"ok": True, "message": "Berichtigt: Name, Telefon.",
                                "fields": ["name", "phone"]}
    # A form sent without the script comes back to the inbox in the language chosen.
    sent = client.post(f"/gdprchat/agent/contacts/{subject.contact_id}/unsubscribe?lang=de",
                       data={"csrf_token": token})
    assert sent.status_code == 303
    assert parse_qs(urlsplit(sent.location).query)["lang"] == ["de"]
    flash = shown_text(client.get(sent.location))
    assert "Der Kontakt ist von allen Kampagnen abgemeldet." in flash

    # The refusal for a missing permission is the agents' text too.
    make_agent("sam@example.test", permissions=["send_messages"])
    other = app.test_client()
    assert login_as(other, "sam@example.test").status_code == 302
    other_token = csrf(other.get("/gdprchat/agent/").get_data(as_text=True))
    refused = other.post(f"/gdprchat/agent/contacts/{subject.contact_id}/unsubscribe",
                         headers={**JSON, "Accept-Language": "de"},
                         data={"csrf_token": other_token})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "Dafür brauchen Sie die Berechtigung „user_data“."


# -- choosing the language ---------------------------------------------------------------------


def test_without_a_preference_agent_pages_are_english(desk, client):
    signed_in, subject = desk
    login_page = shown_text(client.get("/gdprchat/agent/login"))
    assert html_lang(login_page) == "en" and "Sign in to answer your visitors." in login_page
    inbox = shown_text(signed_in.get(f"/gdprchat/agent/?conversation={subject.conversation_id}"))
    assert html_lang(inbox) == "en"
    assert "Choose a chat from the inbox to read it and reply." in inbox
    assert "E-mail transcript" in inbox
    # A language agents have no catalog for is English, not half-translated.
    french = shown_text(client.get("/gdprchat/agent/login", headers={"Accept-Language": "fr"}))
    assert html_lang(french) == "en"


def test_lang_wins_over_the_browser_and_only_agent_languages_count(client):
    german_browser = {"Accept-Language": "de-DE,de;q=0.9"}
    assert html_lang(shown_text(client.get("/gdprchat/agent/login?lang=en",
                                           headers=german_browser))) == "en"
    # French is a visitor language, not an agents' one: the browser's next choice decides.
    assert html_lang(shown_text(client.get("/gdprchat/agent/login?lang=fr",
                                           headers={"Accept-Language": "fr, de;q=0.5"}))) == "de"
    assert html_lang(shown_text(client.get("/gdprchat/agent/login?lang=de_CH"))) == "de"


def test_a_chosen_language_stays_from_sign_in_through_the_console(client, make_agent,
                                                                  make_subject, app):
    subject = make_subject(app)
    make_agent("dana@example.test", permissions=["send_messages", "user_data"])
    away = client.get(f"/gdprchat/agent/?conversation={subject.conversation_id}&lang=de")
    assert away.status_code == 302
    assert parse_qs(urlsplit(away.location).query)["lang"] == ["de"]
    form = shown_text(client.get(away.location))
    assert html_lang(form) == "de"
    signed_in = client.post(away.location, data={
        "csrf_token": csrf(form), "email": "dana@example.test", "password": PASSWORD})
    console = shown_text(client.get(signed_in.location))
    assert html_lang(console) == "de"
    # What the script fetches and the panel's forms send keep the language.
    for name in ("inbox", "json", "panel"):
        url = re.search(rf'data-{name}-url="([^"]+)"', console)
        assert url and parse_qs(urlsplit(url.group(1)).query)["lang"] == ["de"], name
    actions = re.findall(r'action="(/gdprchat/agent/(?:conversations|contacts)/[^"]+)"', console)
    assert actions and all("lang=de" in action for action in actions)


# -- the catalogs ------------------------------------------------------------------------------


def _keys(catalog: Any) -> set[tuple[str | None, Any]]:
    """Each entry as gettext finds it: its context and its msgid."""
    return {(m.context, m.id) for m in catalog if m.id}


def _template_ids() -> set[tuple[str | None, Any]]:
    with open(POT, "rb") as handle:
        return _keys(read_po(handle))


def test_the_agents_catalogs_are_the_agent_languages_in_step_with_the_template():
    shipped = {path.parts[-3] for path in TRANSLATIONS_DIR.glob(f"*/LC_MESSAGES/{AGENT_DOMAIN}.po")}
    assert shipped == set(AGENT_LANGUAGES)
    template = _template_ids()
    for language in AGENT_LANGUAGES:
        catalog = _catalog(language)
        assert not catalog.fuzzy, f"{language}: the header is marked fuzzy"
        assert _keys(catalog) == template, f"{language}: run make i18n-agents-update"


@pytest.mark.parametrize("language", AGENT_LANGUAGES)
def test_an_agents_catalog_translates_everything_and_keeps_placeholders(language):
    problems = []
    for message in _catalog(language):
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
        if language == "en" and _strings(message) != _ids(message):
            problems.append(("English differs from its msgid", message.id))
    assert problems == []


def test_the_agents_compiled_catalogs_are_up_to_date_with_the_po_files(tmp_path):
    for language in AGENT_LANGUAGES:
        fresh = tmp_path / f"{language}.mo"
        with open(fresh, "wb") as handle:
            write_mo(handle, _catalog(language))
        shipped_mo = TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{AGENT_DOMAIN}.mo"
        with open(fresh, "rb") as new, open(shipped_mo, "rb") as shipped:
            expected = {(_ids(m), _strings(m)) for m in read_mo(new) if m.id}
            actual = {(_ids(m), _strings(m)) for m in read_mo(shipped) if m.id}
        assert actual == expected, f"{language}: run make i18n-agents-compile"


def test_the_agents_template_holds_every_string_the_code_marks(tmp_path):
    extracted = tmp_path / "fresh.pot"
    keywords = [arg for keyword in AGENT_KEYWORDS for arg in ("-k", keyword)]
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel_agents.cfg",
         "--no-default-keywords", *keywords, "-o", str(extracted), "."],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with open(extracted, "rb") as new:
        fresh = _keys(read_po(new))
    shipped = _template_ids()
    assert fresh - shipped == set(), "strings missing from the .pot: run make i18n-agents-extract"
    assert shipped - fresh == set(), "strings no longer used: run make i18n-agents-extract"


def test_the_visitors_template_holds_no_agent_text():
    with open(VISITOR_POT, "rb") as handle:
        visitors = list(read_po(handle))
    from_agent_pages = [(m.id, path) for m in visitors if m.id for path, _line in m.locations
                        if path.startswith(AGENT_ONLY_SOURCES)]
    assert from_agent_pages == []
    # Short words ("Cancel", "E-mail") are on visitor pages too, on their own account;
    # no agents' sentence is.
    visitor_ids = {text for m in visitors if m.id for text in _ids(m)}
    shared = {msgid for _context, msgid in _template_ids()
              if len(msgid) > 20 and msgid in visitor_ids}
    assert shared == set()


# -- in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
def test_an_english_browser_that_asks_for_german_gets_the_console_and_its_times_in_german(
        app, live_server, browser, make_agent, chat_visitor, screenshot):
    from playwright.sync_api import expect

    make_agent("dana@example.test", name="Dana Desk", permissions=["send_messages", "user_data"])
    server = live_server(app)
    chat, visitor = chat_visitor(server.url, name="Lena Lang", email="lena@example.test")
    assert visitor.call("send_message", {"conversation_id": chat["conversation_id"],
                                         "text": "Guten Tag!"})["ok"]
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "/gdprchat/agent/login?lang=de")
        page.locator("input[name=email]").fill("dana@example.test")
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        # The script's own words, from the page's block.
        expect(page.locator("#gdprchat-conn")).to_have_text("Verbunden")
        page.locator(".gdprchat-inbox-item a").first.click()
        expect(page.locator(".gdprchat-day").first).to_have_text("Heute")
        expect(page.get_by_text("Daten des Kontakts")).to_be_visible()
        assert "lang=de" in page.url  # the address the script pushed keeps the language
        # Times in German although the browser is American: 1.12.2026, not Dec 1, 2026.
        title = page.locator(".gdprchat-inbox-time").first.get_attribute("title") or ""
        assert re.match(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$", title), title
        screenshot(page, "console-de")
    finally:
        context.close()
