"""The record of processing activities (Art. 30) follows the settings in force."""
from __future__ import annotations

import json

import pytest

from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.personal_data import personal_columns
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session
from flask_gdprchat.records.ropa import COLUMN_DESCRIPTIONS, build_record, undescribed_columns
from flask_gdprchat.team.agents import create_agent
from tests.plugins.admin import ADMIN_URL

ROPA = f"{ADMIN_URL}/ropa/"


def ropa(runner, *args: str):
    result = runner.invoke(args=["gdprchat", "ropa", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_declared_personal_column_is_described_in_plain_words(app_ctx):
    assert undescribed_columns() == [], "describe these in records/ropa.py COLUMN_DESCRIPTIONS"
    declared = {column.where for column in personal_columns()}
    assert set(COLUMN_DESCRIPTIONS) - declared == set(), "descriptions of columns that are gone"
    listed = {f"{table['table']}.{column['column']}"
              for table in build_record()["personal_data"] for column in table["columns"]}
    assert listed == declared


def test_both_formats_follow_retention_and_prechat_fields_saved_at_run_time(app, runner):
    defaults = json.loads(ropa(runner, "--format", "json"))
    assert defaults["retention"]["anonymous_days"] == 270
    assert defaults["retention"]["identified_days"] is None
    assert defaults["prechat_fields"] == {"shown": ["name", "email", "company", "phone"],
                                          "required": []}

    with app.app_context():
        save_settings({"ANONYMOUS_RETENTION_DAYS": 30, "IDENTIFIED_RETENTION_DAYS": 400,
                       "RESTRICTED_GRACE_DAYS": 60, "PRECHAT_FIELDS": ["name", "email"],
                       "PRECHAT_REQUIRED": ["email"]})
    record = json.loads(ropa(runner, "--format", "json"))
    assert {k: record["retention"][k] for k in
            ("anonymous_days", "identified_days", "restricted_grace_days")} == {
        "anonymous_days": 30, "identified_days": 400, "restricted_grace_days": 60}
    assert record["prechat_fields"] == {"shown": ["name", "email"], "required": ["email"]}
    assert record["retention"]["audit_log"].startswith("kept")

    markdown = ropa(runner)  # Markdown is the default format
    assert markdown.startswith("# Record of processing activities")
    assert "- Anonymous conversations: 30 days after the last activity" in markdown
    assert "- Identified contacts' conversations: 400 days after the last activity" in markdown
    assert "kept frozen 60 days" in markdown
    assert "- Shown: name, email\n- Required: email\n" in markdown
    assert "270 days" not in markdown


def test_the_record_names_purposes_subjects_and_the_measures_in_force(make_app):
    app = make_app(GDPRCHAT_MASK_PATTERNS=["iban"], GDPRCHAT_STORE_IP=True,
                   GDPRCHAT_CONTROLLER_NAME="Shop GmbH",
                   GDPRCHAT_CONTROLLER_EMAIL="privacy@shop.example")
    with app.app_context():
        record = build_record()
    assert record["controller"] == {"name": "Shop GmbH", "email": "privacy@shop.example"}
    assert [s["category"] for s in record["data_subjects"]] == [
        "Visitors", "Identified customers", "Agents"]
    assert any("Marketing" in p["purpose"] and "opted in" in p["legal_basis"]
               for p in record["purposes"])
    measures = {m["measure"]: m for m in record["technical_measures"]}
    masking = measures["Masking of payment details before storage"]
    assert masking["in_force"] and "IBANs" in masking["detail"] and "card" not in masking["detail"]
    assert measures["No IP addresses stored"]["in_force"] is False
    assert measures["Secure delete"]["in_force"] is True  # SQLite
    assert record["transfers_outside_eea"] == "none configured"


def test_configured_transfers_outside_the_eea_are_listed(make_app):
    line = "Help-desk mail relay, United States, standard contractual clauses"
    app = make_app(GDPRCHAT_TRANSFERS_OUTSIDE_EEA=[line])
    output = app.test_cli_runner().invoke(args=["gdprchat", "ropa"]).output
    assert f"## Transfers outside the EEA\n\n- {line}\n" in output
    with pytest.raises(ConfigError, match="GDPRCHAT_TRANSFERS_OUTSIDE_EEA"):
        make_app(GDPRCHAT_TRANSFERS_OUTSIDE_EEA="United States")


def test_hosts_are_named_without_any_credential(make_app):
    app = make_app(
        init=False,
        # Refused at once on this port, so the settings fall back to the config.
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://dbuser:db-s3cret@127.0.0.1:1/chatdb",
        MAIL_SERVER="smtp.mail.example", MAIL_PORT=587, MAIL_USE_TLS=True,
        MAIL_USERNAME="mailuser", MAIL_PASSWORD="mail-s3cret",
    )
    # Set after start-up: the record reads it live, and no Redis needs to be running.
    app.config["GDPRCHAT_MESSAGE_QUEUE"] = "redis://queueuser:queue-s3cret@redis.internal:6380/2"
    runner = app.test_cli_runner()
    outputs = [runner.invoke(args=["gdprchat", "ropa", *fmt]) for fmt in ([], ["--format", "json"])]
    for result in outputs:
        assert result.exit_code == 0, result.output
        for secret in ("db-s3cret", "dbuser", "mailuser", "mail-s3cret", "queueuser",
                       "queue-s3cret"):
            assert secret not in result.output
    recipients = {r["recipient"]: r for r in json.loads(outputs[1].output)["recipients"]}
    assert recipients["Database"]["location"] == "127.0.0.1:1, database chatdb"
    assert "postgresql" in recipients["Database"]["role"]
    assert recipients["Mail server (SMTP)"]["location"] == "smtp.mail.example:587"
    assert recipients["Message queue (Redis)"]["location"] == "redis.internal:6380"
    measures = {m["measure"]: m for m in json.loads(outputs[1].output)["technical_measures"]}
    assert measures["Secure delete"]["in_force"] is False


def test_the_dashboard_page_and_its_downloads_follow_the_settings(app, admin_client):
    with app.app_context():
        save_settings({"ANONYMOUS_RETENTION_DAYS": 45, "PRECHAT_FIELDS": ["email", "phone"]})
    page = admin_client.get(ROPA)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Record of processing" in html
    assert "<dt>Anonymous conversations</dt><dd>45 days after the last activity</dd>" in html
    assert "<dt>Shown</dt><dd>email, phone</dd>" in html
    assert 'id="gdprchat-ropa-md"' in html and 'id="gdprchat-ropa-json"' in html

    download = admin_client.get(f"{ROPA}record.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    record = download.get_json()
    assert record["retention"]["anonymous_days"] == 45
    assert record["prechat_fields"]["shown"] == ["email", "phone"]
    markdown = admin_client.get(f"{ROPA}record.md")
    assert markdown.mimetype == "text/markdown"
    assert "- Anonymous conversations: 45 days" in markdown.get_data(as_text=True)

    with app.app_context():
        save_settings({"ANONYMOUS_RETENTION_DAYS": 46})
    assert admin_client.get(f"{ROPA}record.json").get_json()["retention"]["anonymous_days"] == 46


@pytest.mark.parametrize("permissions, status", [(("settings",), 200), (("user_data", "team"), 403)])
def test_the_page_needs_the_settings_permission(agent_client, permissions, status):
    client = agent_client(*permissions)
    for url in (ROPA, f"{ROPA}record.json", f"{ROPA}record.md"):
        assert client.get(url).status_code == status


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(f"{ROPA}record.json")
    assert response.status_code == 302 and "/agent/login" in response.headers["Location"]


def test_the_retention_page_says_which_masks_are_on(make_app, login_as):
    for patterns, words in ((["card", "iban"], "card numbers (Luhn-valid) and IBANs"),
                            ([], "Masking is off")):
        app = make_app(GDPRCHAT_MASK_PATTERNS=patterns)
        with app.app_context():
            create_agent("boss@example.test", "Bo Boss", "correct horse battery", admin=True)
            session().commit()
        client = app.test_client()
        assert login_as(client, "boss@example.test").status_code == 302
        assert words in client.get(f"{ADMIN_URL}/retention/").get_data(as_text=True)
