"""Settings saved in the dashboard override the config at run time."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_gdprchat.core.models import AuditEvent, SavedSetting
from flask_gdprchat.core.settings import save_settings, setting
from flask_gdprchat.core.state import session
from tests.plugins.admin import ADMIN_URL

RETENTION = f"{ADMIN_URL}/retention/"
WIDGET = f"{ADMIN_URL}/widget/"


def _post(client, url, csrf_from, **fields):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**fields, "csrf_token": token})


def _saved(app) -> dict:
    with app.app_context():
        return {row.key: row.value for row in session().scalars(select(SavedSetting))}


def test_the_form_shows_the_settings_in_force(admin_client):
    page = admin_client.get(RETENTION).get_data(as_text=True)
    assert 'name="anonymous_retention_days"' in page and 'value="270"' in page
    assert 'value="183"' in page


def test_saved_retention_applies_at_the_next_request_without_restart(app, admin_client, csrf_from):
    response = _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="90",
                     identified_retention_days="400", restricted_grace_days="60")
    assert response.status_code == 302
    with app.test_request_context():
        assert setting("ANONYMOUS_RETENTION_DAYS") == 90
        assert setting("IDENTIFIED_RETENTION_DAYS") == 400
        assert setting("RESTRICTED_GRACE_DAYS") == 60
    assert app.config["GDPRCHAT_ANONYMOUS_RETENTION_DAYS"] == 270  # the config is untouched
    page = admin_client.get(RETENTION).get_data(as_text=True)
    assert 'value="90"' in page and "setting changed" not in page
    with app.app_context():
        audit = session().scalars(select(AuditEvent).where(AuditEvent.event == "settings_changed")).one()
        assert audit.details["keys"] == [
            "ANONYMOUS_RETENTION_DAYS", "IDENTIFIED_RETENTION_DAYS", "RESTRICTED_GRACE_DAYS"]


def test_an_empty_identified_retention_means_kept_until_erased(app, admin_client, csrf_from):
    _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="270",
          identified_retention_days="30", restricted_grace_days="183")
    _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="270",
          identified_retention_days="", restricted_grace_days="183")
    with app.test_request_context():
        assert setting("IDENTIFIED_RETENTION_DAYS") is None


def test_a_bad_value_names_the_field_in_words_and_nothing_is_saved(app, admin_client, csrf_from):
    response = _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="0",
                     identified_retention_days="30", restricted_grace_days="183")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was saved" in page
    assert ("Anonymous conversations are kept for (days): Enter a whole number of days, "
            "1 or more.") in page
    # The config key is for developers; the admin reads what to do instead.
    assert "GDPRCHAT_" not in page.split("<main", 1)[1]
    assert _saved(app) == {}


def test_text_instead_of_a_number_is_refused(app, admin_client, csrf_from):
    response = _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="soon",
                     restricted_grace_days="183")
    assert response.status_code == 400
    assert ("Anonymous conversations are kept for (days): Enter a whole number of days, like 270."
            in response.get_data(as_text=True))
    assert _saved(app) == {}


WIDGET_FORM = {
    "prechat_fields": ["name", "email"],
    "prechat_required": ["email"],
    "consent_text": "I accept the <b>policy</b>.",
    "marketing_consent_text": "Send me news.",
    "privacy_policy_url": "",
    "privacy_policy_version": "2",
    "widget_title": "Talk to us",
    "widget_greeting": "Hello!",
    "widget_color": "#112233",
}


def test_widget_settings_are_saved_and_read_back(app, admin_client, csrf_from):
    response = _post(admin_client, WIDGET, csrf_from, **WIDGET_FORM)
    assert response.status_code == 302
    with app.test_request_context():
        assert setting("PRECHAT_FIELDS") == ["name", "email"]
        assert setting("PRECHAT_REQUIRED") == ["email"]
        assert setting("PRIVACY_POLICY_VERSION") == "2"
        assert setting("PRIVACY_POLICY_URL") is None
        assert setting("WIDGET_COLOR") == "#112233"
    page = admin_client.get(WIDGET).get_data(as_text=True)
    # Saved wording is shown back as text, never as markup.
    assert "I accept the &lt;b&gt;policy&lt;/b&gt;." in page


def test_a_required_field_must_be_shown(app, admin_client, csrf_from):
    response = _post(admin_client, WIDGET, csrf_from,
                     **{**WIDGET_FORM, "prechat_required": ["phone"]})
    assert response.status_code == 400
    assert ("Phone is required but not shown: tick it under “Pre-chat fields shown” too, "
            "or untick it here.") in response.get_data(as_text=True)
    assert _saved(app) == {}


def test_a_bad_colour_says_what_to_choose(app, admin_client, csrf_from):
    response = _post(admin_client, WIDGET, csrf_from, **{**WIDGET_FORM, "widget_color": "red"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Widget colour: Choose a colour like #2563eb." in page
    assert "GDPRCHAT_WIDGET_COLOR" not in page
    # The field points at its error, for screen readers.
    assert 'aria-invalid="true"' in page and 'id="widget_color-error"' in page
    assert _saved(app) == {}


def test_a_wording_for_a_language_the_site_does_not_offer_is_refused_in_words(
    app, admin_client, csrf_from
):
    app.config["GDPRCHAT_LANGUAGES"] = ["en", "de"]
    response = _post(admin_client, WIDGET, csrf_from,
                     **{**WIDGET_FORM, "consent_text": '{"en": "I agree.", "xx": "Oui."}'})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The site does not offer xx. Write texts only for the languages it offers: en, de." in page
    assert _saved(app) == {}


def test_the_widget_page_previews_the_settings_in_force(app, admin_client, csrf_from):
    _post(admin_client, WIDGET, csrf_from,
          **{**WIDGET_FORM, "widget_title": "Ask <us>", "widget_greeting": "Hej!"})
    page = admin_client.get(WIDGET).get_data(as_text=True)
    preview = page.split('id="gdprchat-widget-preview"', 1)[1].split("</aside>", 1)[0]
    assert "--gdprchat-preview-colour: #112233" in preview
    assert '<strong data-preview="title">Ask &lt;us&gt;</strong>' in preview
    assert ">Hej!</p>" in preview
    # The script that redraws it as the admin types is a static file, not inline.
    assert '/gdprchat/static/gdprchat/admin.js"' in page
    assert "<script>" not in page and " onclick=" not in page


def test_the_privacy_page_states_the_saved_retention(app, admin_client, csrf_from):
    _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="123",
          identified_retention_days="", restricted_grace_days="183")
    page = app.test_client().get("/gdprchat/privacy").get_data(as_text=True)
    assert "123" in page


def test_saving_a_required_field_that_is_not_shown_is_refused_in_code(app):
    """The dashboard form and the Python API share one rule for the pre-chat lists."""
    from flask_gdprchat.core.config import ConfigError

    with app.test_request_context():
        with pytest.raises(ConfigError, match="GDPRCHAT_PRECHAT_REQUIRED"):
            save_settings({"PRECHAT_FIELDS": ["name"], "PRECHAT_REQUIRED": ["email"]})
        # Also against the fields already in force, when only one list changes.
        save_settings({"PRECHAT_FIELDS": ["name", "email"]})
        with pytest.raises(ConfigError, match="phone"):
            save_settings({"PRECHAT_REQUIRED": ["phone"]})
        assert setting("PRECHAT_REQUIRED") == []
        assert setting("PRECHAT_FIELDS") == ["name", "email"]


def test_saving_one_change_counts_one(app, admin_client, csrf_from):
    """The form sends every field; only the one that differs from what is in force counts."""
    response = _post(admin_client, RETENTION, csrf_from, anonymous_retention_days="90",
                     identified_retention_days="", restricted_grace_days="183")
    assert response.status_code == 302
    page = admin_client.get(RETENTION).get_data(as_text=True)
    assert "Saved: 1 setting changed." in page
