"""Who can answer now: office hours, agents online, and ``GET P/api/availability``."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from flask_gdprchat.core import office_hours
from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.models import Agent, LiveSocket
from flask_gdprchat.core.settings import save_settings, setting
from flask_gdprchat.core.state import session
from tests.plugins.admin import ADMIN_URL

AVAILABILITY = "/gdprchat/api/availability"
#: Weekdays in Berlin, Saturday mornings; in UTC that is 08:00-16:00 in winter.
BERLIN = {"timezone": "Europe/Berlin", "mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"],
          "wed": ["09:00", "17:00"], "thu": ["09:00", "17:00"], "fri": ["09:00", "17:00"],
          "sat": ["10:00", "13:00"]}
#: Wednesday 2 December 2026 (Berlin is UTC+1 in December).
WEDNESDAY = dt.date(2026, 12, 2)


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


# -- the clock ------------------------------------------------------------------------------


@pytest.mark.parametrize("moment, open_now", [
    (utc(WEDNESDAY, 7, 59), False),   # 08:59 in Berlin
    (utc(WEDNESDAY, 8, 0), True),     # 09:00: opening time is open
    (utc(WEDNESDAY, 15, 59), True),
    (utc(WEDNESDAY, 16, 0), False),   # 17:00: closing time is closed
    (utc(WEDNESDAY + dt.timedelta(days=4), 12, 0), False),  # Sunday
])
def test_office_hours_are_read_in_the_site_time_zone(moment, open_now):
    assert office_hours.is_open(BERLIN, moment) is open_now
    assert office_hours.is_open(None, moment) is True  # no hours: around the clock


def test_the_next_opening_skips_closed_days_and_follows_summer_time():
    friday_evening = utc(WEDNESDAY + dt.timedelta(days=2), 18, 0)
    assert office_hours.next_opening(BERLIN, friday_evening) == dt.datetime(
        2026, 12, 5, 9, 0, tzinfo=dt.timezone.utc)  # Saturday 10:00 in Berlin
    saturday_afternoon = utc(WEDNESDAY + dt.timedelta(days=3), 14, 0)
    assert office_hours.next_opening(BERLIN, saturday_afternoon) == dt.datetime(
        2026, 12, 7, 8, 0, tzinfo=dt.timezone.utc)  # Monday 09:00
    # Across the change to summer time (29 March 2026), 09:00 in Berlin is 07:00 UTC.
    sunday_in_march = dt.datetime(2026, 3, 29, 12, 0)
    assert office_hours.next_opening(BERLIN, sunday_in_march) == dt.datetime(
        2026, 3, 30, 7, 0, tzinfo=dt.timezone.utc)
    assert office_hours.next_opening(BERLIN, utc(WEDNESDAY, 10, 0)) is None  # open now
    assert office_hours.next_opening(None, utc(WEDNESDAY, 3, 0)) is None


def test_the_dashboard_text_reads_and_writes_the_hours():
    text = "Europe/Berlin\nMon-Fri 09:00-17:00\nSat 10:00-13:00"
    assert office_hours.parse_text(text) == BERLIN
    assert office_hours.to_text(BERLIN) == text
    assert office_hours.parse_text("  \n ") is None
    assert office_hours.parse_text("UTC\nsun 0:00-24:00") == {"timezone": "UTC",
                                                              "sun": ["00:00", "24:00"]}
    for wrong, says in [("Mon-Fri 09:00-17:00", "time zone"),
                        ("Mars/Olympus\nMon 09:00-17:00", "neither a time zone"),
                        ("UTC\nMon 17:00-09:00", "opening before closing"),
                        ("UTC\nFri-Mon 09:00-17:00", "in order"),
                        ("UTC", "at least one day")]:
        with pytest.raises(ValueError, match=says):
            office_hours.parse_text(wrong)


@pytest.mark.parametrize("bad", [
    {"mon": ["09:00", "17:00"]},                                   # no time zone
    {"timezone": "Atlantis/Nowhere", "mon": ["09:00", "17:00"]},
    {"timezone": "UTC", "monday": ["09:00", "17:00"]},
    {"timezone": "UTC", "mon": ["17:00", "09:00"]},
    {"timezone": "UTC", "mon": ["9am", "5pm"]},
    "Mon-Fri 9-5",
])
def test_wrong_office_hours_fail_at_start_up_naming_the_key(make_app, bad):
    with pytest.raises(ConfigError, match="GDPRCHAT_OFFICE_HOURS"):
        make_app(GDPRCHAT_OFFICE_HOURS=bad)


# -- the API ----------------------------------------------------------------------------------


def _agent_online(app, agent_id: int, *, presence: str = "online") -> None:
    """What a signed-in console leaves in the database: an open socket, a presence."""
    with app.app_context():
        db = session()
        db.execute(update(Agent).where(Agent.id == agent_id).values(presence=presence))
        db.add(LiveSocket(sid=f"console-{agent_id}", agent_id=agent_id))
        db.commit()


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr("flask_gdprchat.web.api.utcnow", lambda: moment)


def test_nobody_can_answer_while_no_agent_is_online(client):
    response = client.get(AVAILABILITY)
    assert response.status_code == 200
    assert response.get_json() == {"online": False, "agents_online": 0, "next_open": None}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_an_agent_online_within_office_hours_can_answer(app, client, make_agent, monkeypatch):
    _agent_online(app, make_agent("sam@example.test", permissions=["send_messages"]))
    away = make_agent("ali@example.test", permissions=["send_messages"])
    _agent_online(app, away, presence="away")
    _agent_online(app, make_agent("rita@example.test", permissions=["user_data"]))  # cannot answer
    assert client.get(AVAILABILITY).get_json() == {"online": True, "agents_online": 1,
                                                   "next_open": None}
    with app.app_context():
        save_settings({"OFFICE_HOURS": BERLIN})
    _at(monkeypatch, utc(WEDNESDAY, 10, 30))
    assert client.get(AVAILABILITY).get_json()["online"] is True


def test_outside_office_hours_nobody_can_answer_and_the_next_opening_is_given(
    app, client, make_agent, monkeypatch
):
    _agent_online(app, make_agent("sam@example.test"))
    with app.app_context():
        save_settings({"OFFICE_HOURS": BERLIN})
    _at(monkeypatch, utc(WEDNESDAY + dt.timedelta(days=2), 19, 15))  # Friday evening
    assert client.get(AVAILABILITY).get_json() == {
        "online": False, "agents_online": 1, "next_open": "2026-12-05T09:00:00Z"}
    # Within the hours but with nobody online: no opening to wait for.
    with app.app_context():
        session().query(LiveSocket).delete()
        session().commit()
    _at(monkeypatch, utc(WEDNESDAY, 9, 0))
    assert client.get(AVAILABILITY).get_json() == {"online": False, "agents_online": 0,
                                                   "next_open": None}


def test_a_connected_console_counts_and_away_does_not(app, chat_server, chat_agent):
    import requests

    url = chat_server.url + AVAILABILITY
    assert requests.get(url, timeout=10).json()["online"] is False
    console = chat_agent(chat_server.url)
    assert requests.get(url, timeout=10).json() == {"online": True, "agents_online": 1,
                                                    "next_open": None}
    assert console.call("set_status", {"status": "away"})["ok"] is True
    assert requests.get(url, timeout=10).json()["agents_online"] == 0


# -- the dashboard ----------------------------------------------------------------------------

WIDGET = f"{ADMIN_URL}/widget/"


def _widget_form(client, csrf_from, **fields):
    page = client.get(WIDGET).get_data(as_text=True)
    form = {"prechat_fields": ["name", "email", "company", "phone"], "prechat_required": [],
            "consent_text": setting_text(client), "marketing_consent_text":
            "Send me news and offers by e-mail. (optional)", "privacy_policy_url": "",
            "privacy_policy_version": "1", "widget_title": "Chat with us",
            "widget_greeting": "Hi! How can we help?", "widget_color": "#2563eb",
            "csrf_token": csrf_from(page), **fields}
    return client.post(WIDGET, data=form)


def setting_text(client) -> str:
    return client.application.config["GDPRCHAT_CONSENT_TEXT"]


def test_office_hours_are_set_on_the_widget_screen_and_apply_at_once(app, admin_client,
                                                                      csrf_from):
    page = admin_client.get(WIDGET).get_data(as_text=True)
    assert 'name="office_hours"' in page
    response = _widget_form(admin_client, csrf_from,
                            office_hours="Europe/Berlin\nmon-fri 9:00-17:00\nSat 10:00-13:00")
    assert response.status_code == 302
    with app.test_request_context():
        assert setting("OFFICE_HOURS") == BERLIN
    page = admin_client.get(WIDGET).get_data(as_text=True)
    assert "Europe/Berlin\nMon-Fri 09:00-17:00\nSat 10:00-13:00</textarea>" in page
    # Emptied again: around the clock.
    assert _widget_form(admin_client, csrf_from, office_hours="").status_code == 302
    with app.test_request_context():
        assert setting("OFFICE_HOURS") is None


def test_office_hours_the_dashboard_cannot_read_are_refused_in_words(app, admin_client, csrf_from):
    response = _widget_form(admin_client, csrf_from, office_hours="Mon-Fri 9 to 5")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Office hours: " in page and "time zone (like Europe/Berlin)" in page
    assert "Mon-Fri 9 to 5</textarea>" in page  # kept as typed, to fix
    with app.test_request_context():
        assert setting("OFFICE_HOURS") is None
