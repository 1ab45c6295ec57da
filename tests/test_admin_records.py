"""The dashboard's records for people: contacts found and opened, consent records,
requests and the audit log in words, never an e-mail address where none belongs."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from flask_gdprchat.core import audit
from flask_gdprchat.core.models import ConsentRecord, Conversation
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.requests import log_fulfilled, open_request
from tests.plugins.admin import ADMIN_URL

CONTACTS = f"{ADMIN_URL}/contacts/"


def _main(page: str) -> str:
    """The page's own content, without the menu and the top bar."""
    return page.split('<main', 1)[1].split("</main>", 1)[0]


def _conversation_id(app, contact_id: int) -> int:
    with app.app_context():
        return session().scalar(select(Conversation.id).where(Conversation.contact_id == contact_id))


# -- contacts ------------------------------------------------------------------------------


def test_contacts_are_named_like_the_console_and_found_by_name_or_email(agent_client,
                                                                        make_contact):
    rita = make_contact("rita@example.test", name="Rita Reader")
    anonymous = make_contact(None, marketing=False)
    client = agent_client("user_data")
    page = _main(client.get(CONTACTS).get_data(as_text=True))
    assert f'href="{CONTACTS}{rita}/">Rita Reader</a>' in page
    assert f'href="{CONTACTS}{anonymous}/">Visitor {anonymous}</a>' in page
    assert 'for="gdprchat-search">Search by name or e-mail</label>' in page

    by_name = _main(client.get(f"{CONTACTS}?search=reader").get_data(as_text=True))
    assert "Rita Reader" in by_name and f"Visitor {anonymous}" not in by_name
    by_email = _main(client.get(f"{CONTACTS}?search=rita@example").get_data(as_text=True))
    assert "Rita Reader" in by_email
    nobody = _main(client.get(f"{CONTACTS}?search=nobody").get_data(as_text=True))
    assert "No contact matches this search." in nobody and "Rita" not in nobody


def test_agents_without_user_data_see_no_contact(agent_client, make_contact):
    rita = make_contact("rita@example.test", name="Rita Reader")
    others = agent_client("send_messages", "settings", "team")
    for path in (CONTACTS, f"{CONTACTS}?search=rita", f"{CONTACTS}{rita}/", f"{ADMIN_URL}/consents/"):
        response = others.get(path)
        assert response.status_code == 403, path
        assert "rita@example.test" not in response.get_data(as_text=True)
    menu = others.get(f"{ADMIN_URL}/").get_data(as_text=True)
    assert f'href="{CONTACTS}"' not in menu


def test_a_contact_page_lists_details_consents_and_conversations_with_console_links(
    app, agent_client, make_contact
):
    rita = make_contact("rita@example.test", name="Rita <script>alert(1)</script>")
    conversation = _conversation_id(app, rita)
    with app.app_context():
        db = session()
        db.add(ConsentRecord(contact_id=rita, purpose="privacy_policy", policy_version="2",
                             wording="Ich stimme zu.", locale="de",
                             withdrawn_at=dt.datetime(2030, 1, 2, 3, 4)))
        db.commit()
    response = agent_client("user_data").get(f"{CONTACTS}{rita}/")
    assert response.status_code == 200
    page = _main(response.get_data(as_text=True))
    # Visitor text is shown as text.
    assert "Rita &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "rita@example.test" in page
    assert f'href="/gdprchat/agent/?conversation={conversation}"' in page
    consents = page.split('id="gdprchat-consents"', 1)[1].split("</ul>", 1)[0]
    assert "Privacy policy" in consents and "Marketing e-mails" in consents
    assert "policy version 2 · language German (de)" in consents
    assert "Withdrawn 2030-01-02 03:04" in consents and "Ich stimme zu." in consents


def test_an_unknown_or_erased_contact_is_a_404(agent_client):
    client = agent_client("user_data")
    assert client.get(f"{CONTACTS}999/").status_code == 404
    assert client.get(f"{CONTACTS}{10**30}/").status_code == 404


# -- consent records -----------------------------------------------------------------------


def test_consent_records_name_the_contact_and_the_purpose_in_words(app, agent_client,
                                                                   make_contact):
    rita = make_contact("rita@example.test", name="Rita Reader")
    anonymous = make_contact(None, marketing=False)
    with app.app_context():
        record = session().scalars(select(ConsentRecord).where(
            ConsentRecord.contact_id == anonymous)).one()
        record.locale = "fr"
        session().commit()
    page = _main(agent_client("user_data").get(f"{ADMIN_URL}/consents/").get_data(as_text=True))
    assert f'href="{CONTACTS}{rita}/">Rita Reader</a>' in page
    assert f">Visitor {anonymous}</a>" in page
    assert "Privacy policy" in page and "Marketing e-mails" in page
    assert "privacy_policy" not in page and f"contact {rita}" not in page
    assert "French (fr)" in page and "In force" in page


# -- the request tracker -------------------------------------------------------------------


def test_requests_show_kind_channel_dates_and_a_short_reference_never_an_address(
    app, agent_client
):
    with app.app_context():
        ref = audit.subject_ref("rita@example.test")
        log_fulfilled("export", ref=ref, channel="subject")
        late = open_request("erase", ref=ref, channel="agent")
        late.received_at -= dt.timedelta(days=40)
        late.due_at -= dt.timedelta(days=40)
        session().commit()
    page = _main(agent_client("user_data").get(f"{ADMIN_URL}/requests/").get_data(as_text=True))
    assert "Copy of their data (access and portability, Art. 15 and 20)" in page
    assert "Erasure (Art. 17)" in page
    assert "Privacy page" in page and "Agent, in the console" in page
    assert "Overdue" in page and "Done" in page
    assert ref[:12] in page
    # The full reference is kept for matching, the address never appears.
    assert "rita@example.test" not in page
    assert re.search(r">\s*export\s*<", page) is None


def test_a_request_leads_to_its_subject_in_the_audit_log(app, agent_client):
    with app.app_context():
        ref = audit.subject_ref("rita@example.test")
        log_fulfilled("rectify", ref=ref, channel="subject")
        audit.record("subject_rectified", ref=ref, actor="subject", fields=["phone"])
        audit.record("subject_rectified", ref=audit.subject_ref("other@example.test"),
                     actor="subject", fields=["name"])
        session().commit()
    client = agent_client("user_data")
    page = client.get(f"{ADMIN_URL}/requests/").get_data(as_text=True)
    link = f'{ADMIN_URL}/audit/?search={ref[:12]}'
    assert f'href="{link}"' in page
    events = _main(client.get(link).get_data(as_text=True))
    assert "A subject corrected their phone number." in events
    assert "A subject corrected their name." not in events


# -- the audit log -------------------------------------------------------------------------


def test_the_audit_log_reads_as_sentences_with_the_raw_record_one_click_away(app, agent_client):
    with app.app_context():
        audit.record("agent_signed_in", actor="agent:1")
        audit.record("subject_rectified", ref=audit.subject_ref("x@example.test"),
                     actor="subject", fields=["phone"])
        audit.record("retention_purge", actor="scheduler", counts={"conversations": 3})
        session().commit()
    page = _main(agent_client("user_data").get(f"{ADMIN_URL}/audit/").get_data(as_text=True))
    assert "Agent #1 signed in." in page
    assert "A subject corrected their phone number." in page
    assert "Retention purge removed 3 conversations." in page
    assert 'id="gdprchat-chain-status">Chain intact' in page
    raw = re.findall(r"<details class=\"gdprchat-admin-raw\"><summary>Raw record #\d+</summary>"
                     r"<pre>(.*?)</pre></details>", page, re.S)
    assert len(raw) >= 3
    assert any("&#34;event&#34;: &#34;agent_signed_in&#34;" in r or
               "&quot;event&quot;: &quot;agent_signed_in&quot;" in r for r in raw)
