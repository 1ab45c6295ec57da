"""The dashboard in the agent's language: every screen, its menu, its lists and forms,
its flash messages and Flask-Admin's own words, from ?lang= or the browser."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from flask_gdprchat.core import audit
from flask_gdprchat.core.models import Campaign, ConsentRecord, SavedReply
from flask_gdprchat.core.state import session
from flask_gdprchat.records.ropa import build_record
from flask_gdprchat.rights.requests import open_request
from tests.plugins.admin import ADMIN_URL
from tests.test_i18n_agents import (
    GERMAN,
    assert_no_english,
    csrf,
    html_lang,
    shown_text,
    with_query,
)


@pytest.fixture
def dashboard(app: Any, admin_client: Any, make_contact: Any) -> dict[str, Any]:
    """An admin's client and a dashboard with something on every screen."""
    rita = make_contact("rita@example.test", name="Rita Rivers", restricted=True)
    with app.app_context():
        db = session()
        db.add(ConsentRecord(contact_id=rita, purpose="marketing", policy_version="2",
                             wording="Ich stimme zu.", locale="de",
                             withdrawn_at=dt.datetime(2030, 1, 2, 3, 4)))
        campaign = Campaign(name="Spring news", subject="Hello", body="News.", channel="email",
                            kind="manual", is_active=True)
        db.add(campaign)
        db.add(Campaign(name="Welcome", subject="Hi", body="Welcome.", channel="chat",
                        kind="automatic", delay_days=3, is_active=True))
        db.add(SavedReply(shortcut="hours", title="Opening hours", text="We answer 9 to 5."))
        db.commit()
        campaign_id = campaign.id
        ref = audit.subject_ref("rita@example.test")
        open_request("erase", ref=ref, channel="subject")
        audit.record("erasure_requested", ref=ref, actor="subject")
        db.commit()
    return {"client": admin_client, "contact": rita, "campaign": campaign_id}


def screens(dashboard: dict[str, Any]) -> dict[str, str]:
    return {
        "overview": f"{ADMIN_URL}/",
        "team": f"{ADMIN_URL}/team/",
        "team member form": f"{ADMIN_URL}/team/new/",
        "widget": f"{ADMIN_URL}/widget/",
        "retention": f"{ADMIN_URL}/retention/",
        "campaigns": f"{ADMIN_URL}/campaigns/",
        "campaign form": f"{ADMIN_URL}/campaigns/new/",
        "campaign send page": f"{ADMIN_URL}/campaigns/send/{dashboard['campaign']}/",
        "contacts": f"{ADMIN_URL}/contacts/",
        "a contact": f"{ADMIN_URL}/contacts/{dashboard['contact']}/",
        "consent records": f"{ADMIN_URL}/consents/",
        "requests": f"{ADMIN_URL}/requests/",
        "audit log": f"{ADMIN_URL}/audit/",
        "record of processing": f"{ADMIN_URL}/ropa/",
        "saved replies": f"{ADMIN_URL}/saved-replies/",
    }


def _record_texts(app: Any) -> list[str]:
    """The record of processing's own content (records/ropa.py writes the document, the
    same as its downloads, in English): left out, the page's words are checked."""
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    with app.test_request_context():
        walk(build_record())
    return sorted(texts, key=len, reverse=True)


@pytest.mark.parametrize("how", GERMAN)
def test_every_dashboard_screen_is_german_when_german_is_asked(app, dashboard, how):
    query, headers = GERMAN[how]
    record = _record_texts(app)
    for name, url in screens(dashboard).items():
        response = dashboard["client"].get(with_query(url, query), headers=headers)
        assert response.status_code == 200, name
        page = shown_text(response)
        assert html_lang(page) == "de", name
        if name == "record of processing":
            assert "Technische und organisatorische Maßnahmen" in page
            for text in record:
                page = page.replace(text, "")
        try:
            assert_no_english(page)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        # The menu and the top bar are the agents' words too.
        assert "Prüfprotokoll" in page and "Agenten-Konsole" in page, name


def test_lists_forms_and_flask_admins_own_words_are_german(dashboard):
    client = dashboard["client"]
    team = shown_text(client.get(f"{ADMIN_URL}/team/?lang=de"))
    assert "Teammitglied hinzufügen" in team and "Vollständig löschen (auch den Vornamen)" in team
    # A row's confirmation, read by the page's script, is German as well.
    assert 'data-gdprchat-confirm="Dieses Teammitglied löschen?' in team
    form = shown_text(client.get(f"{ADMIN_URL}/campaigns/new/?lang=de"))
    assert "Automatisch: gesendet nach dem ersten Chat eines Kontakts" in form
    # Flask-Admin's own buttons come from its "admin" domain, in the same language.
    assert re.search(r'value="Speichern"', form), "Flask-Admin's Save is not German"
    requests = shown_text(client.get(f"{ADMIN_URL}/requests/?lang=de"))
    assert "Löschung (Art. 17)" in requests and "Datenschutzseite" in requests
    audit_log = shown_text(client.get(f"{ADMIN_URL}/audit/?lang=de"))
    assert "Eine betroffene Person hat die Löschung ihrer Daten beantragt." in audit_log
    contact = shown_text(client.get(f"{ADMIN_URL}/contacts/{dashboard['contact']}/?lang=de"))
    assert "Werbe-E-Mails" in contact and "Deutsch (de)" in contact


def test_links_between_screens_keep_the_chosen_language(dashboard):
    page = shown_text(dashboard["client"].get(f"{ADMIN_URL}/?lang=de"))
    links = re.findall(r'href="([^"]+)" class="gdprchat-admin-navlink', page)
    assert len(links) == 11 and all("lang=de" in link for link in links), links


def test_without_a_preference_the_dashboard_is_english(dashboard):
    client = dashboard["client"]
    for name, url in screens(dashboard).items():
        page = shown_text(client.get(url))
        assert html_lang(page) == "en", name
        assert "Audit log" in page, name
    french = shown_text(client.get(f"{ADMIN_URL}/team/", headers={"Accept-Language": "fr"}))
    assert html_lang(french) == "en" and "Add a team member" in french
    form = shown_text(client.get(f"{ADMIN_URL}/campaigns/new/"))
    assert 'value="Save"' in form


@pytest.mark.parametrize("how", GERMAN)
def test_saving_settings_says_so_in_german(dashboard, how):
    query, headers = GERMAN[how]
    client = dashboard["client"]
    url = with_query(f"{ADMIN_URL}/retention/", query)
    token = csrf(shown_text(client.get(url, headers=headers)))
    saved = client.post(url, headers=headers, follow_redirects=True, data={
        "csrf_token": token, "anonymous_retention_days": "90",
        "identified_retention_days": "", "restricted_grace_days": "183"})
    page = shown_text(saved)
    assert saved.status_code == 200 and html_lang(page) == "de"
    assert "Gespeichert: 1 Einstellung geändert. Sie gilt ab sofort." in page
    refused = client.post(url, headers=headers, data={
        "csrf_token": token, "anonymous_retention_days": "many",
        "identified_retention_days": "", "restricted_grace_days": "183"})
    page = shown_text(refused)
    assert refused.status_code == 400
    assert "Es wurde nichts gespeichert." in page
    assert "Geben Sie eine ganze Zahl von Tagen ein, etwa 270." in page
    assert_no_english(page)


def test_a_team_action_and_a_refused_campaign_flash_in_german(app, dashboard, make_agent):
    client = dashboard["client"]
    other = make_agent("sam@example.test", name="Sam Support")
    token = csrf(shown_text(client.get(f"{ADMIN_URL}/team/?lang=de")))
    done = client.post(f"{ADMIN_URL}/team/action/?lang=de", follow_redirects=True, data={
        "csrf_token": token, "action": "disable", "rowid": [str(other)],
        "url": f"{ADMIN_URL}/team/?lang=de"})
    assert "1 Teammitglied deaktiviert." in shown_text(done)
    with app.app_context():
        automatic = session().query(Campaign).filter_by(kind="automatic").one().id
    page = shown_text(client.get(f"{ADMIN_URL}/campaigns/send/{automatic}/?lang=de"))
    assert "Diese Kampagne ist automatisch: Der Zeitplaner sendet sie jedem Kontakt 3 Tage" in page
