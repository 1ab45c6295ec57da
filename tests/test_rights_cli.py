"""``flask gdprchat export | erase | verify-erasure``: one clear line on errors."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from flask_gdprchat.core.models import Contact, SubjectRequest
from flask_gdprchat.core.state import session


def test_export_writes_each_format_to_stdout_or_a_file(make_app, make_subject, tmp_path):
    app = make_app()
    subject = make_subject(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gdprchat", "export", subject.email, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout_bytes)
    assert data["contacts"][0]["profile"]["name"] == subject.name
    out = tmp_path / "export.xml"
    result = runner.invoke(args=["gdprchat", "export", subject.email, "--format", "xml",
                                 "--output", str(out)])
    assert result.exit_code == 0
    assert ET.parse(out).getroot().findtext("contact/profile/phone") == subject.phone
    result = runner.invoke(args=["gdprchat", "export", subject.email, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode())))
    assert [r["value"] for r in rows if r["author_role"] == "visitor"] == subject.visitor_texts
    with app.app_context():
        channels = session().scalars(select(SubjectRequest.channel)).all()
        assert channels == ["cli", "cli", "cli"]


def test_export_errors_are_one_line(make_app):
    runner = make_app().test_cli_runner()
    result = runner.invoke(args=["gdprchat", "export", "nobody@example.test", "--format", "json"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no data is held for that e-mail address"
    assert "Traceback" not in result.output
    bad = runner.invoke(args=["gdprchat", "export", "a@b.example", "--format", "pdf"])
    assert bad.exit_code == 2 and "pdf" in bad.stderr


def test_erase_asks_first_unless_yes(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    runner = app.test_cli_runner()
    declined = runner.invoke(args=["gdprchat", "erase", subject.email], input="n\n")
    assert declined.exit_code == 1
    with app.app_context():
        assert session().get(Contact, subject.contact_id) is not None
    accepted = runner.invoke(args=["gdprchat", "erase", subject.email], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "4 messages" in accepted.stdout and "1 contacts" in accepted.stdout
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Contact)) == 0
    assert runner.invoke(args=["gdprchat", "verify-erasure", subject.email]).exit_code == 0


def test_erase_with_yes_and_unknown_addresses(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["gdprchat", "erase", "nobody@example.test", "--yes"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: no data is held for that e-mail address\n"
    done = runner.invoke(args=["gdprchat", "erase", subject.email.upper(), "--yes"])
    assert done.exit_code == 0
    with app.app_context():
        assert session().get(Contact, subject.contact_id) is None


def test_verify_erasure_names_the_place_of_a_trace(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gdprchat", "verify-erasure", subject.email.upper()])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: traces of the subject remain in: ")
    assert "gdprchat_contacts.email" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    clean = runner.invoke(args=["gdprchat", "verify-erasure", "never-seen@example.test"])
    assert clean.exit_code == 0 and "No trace" in clean.stdout


def test_verify_erasure_refuses_what_is_not_an_address(make_app):
    runner = make_app().test_cli_runner()
    for wrong in ("not-an-email", "", "two words@example.test", "ann@localhost"):
        result = runner.invoke(args=["gdprchat", "verify-erasure", wrong])
        assert result.exit_code == 2, (wrong, result.output)
        assert result.stdout == ""  # no "No trace" for a typo
        assert result.stderr.startswith("Error: give an e-mail address")
        assert len(result.stderr.strip().splitlines()) == 1


def test_commands_before_init_db_fail_cleanly(make_app):
    runner = make_app(init=False).test_cli_runner()
    result = runner.invoke(args=["gdprchat", "erase", "a@b.example", "--yes"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database error:")
    assert "Traceback" not in result.output
